package exec

// Temporary: keeps every dependency in go.mod while the packages that use
// them are written. Removed once the real imports exist.
import (
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/ecs"
	_ "github.com/aws/aws-sdk-go-v2/service/ssm"
	_ "github.com/aws/session-manager-plugin/src/message"
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session"
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session/shellsession"
	_ "github.com/briandowns/spinner"
	_ "github.com/creack/pty"
	_ "github.com/gorilla/websocket"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/term"
)
