package stacks

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"
)

// modulePath is the module this package belongs to; its go.mod marks the
// directory Lambda packages are built from.
const modulePath = "github.com/breakglass-dev/breakglass/infra/cdk"

// goLambdaCode returns the code of the Go Lambda in pkg (relative to the
// module root, e.g. "lambda/efsinit"), built for provided.al2023 on arm64 by
// the local Go toolchain while the app synthesises. No Docker is involved.
//
// The asset is hashed by its output: the build is reproducible (-trimpath,
// no VCS stamp), so the hash changes exactly when the binary does, including
// for a dependency bump the source directory would not show.
func goLambdaCode(pkg string) awslambda.Code {
	root, err := moduleRoot()
	if err != nil {
		panic(err)
	}
	return awslambda.Code_FromAsset(jsii.String(filepath.Join(root, pkg)), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// The CDK requires an image, used only when local bundling
			// declines; goBundler never declines (it fails instead, since a
			// Docker fallback would fail less clearly, or not at all in CI).
			Image: awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang")),
			Local: &goBundler{moduleDir: root, pkg: pkg},
		},
	})
}

// goBundler is the CDK's local bundling hook (awscdk.ILocalBundling) for a
// Go Lambda.
type goBundler struct {
	moduleDir string
	pkg       string
}

// TryBundle builds the package into outputDir/bootstrap. It panics with the
// compiler's output when the build fails, which fails the synth.
func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
		"-tags=lambda.norpc", "-o", filepath.Join(*outputDir, "bootstrap"), "./"+b.pkg)
	cmd.Dir = b.moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		panic(fmt.Sprintf("build Lambda %s for linux/arm64: %v\n%s", b.pkg, err, out))
	}
	return jsii.Bool(true)
}

// moduleRoot finds this module's directory from the working directory, which
// is the module root under `cdk synth` and a package directory under
// `go test`.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module %s: %w", modulePath, err)
	}
	for {
		if isModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module " + modulePath +
				": no go.mod of it above the working directory")
		}
		dir = parent
	}
}

func isModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == modulePath
		}
	}
	return false
}
