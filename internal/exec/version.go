package exec

import "github.com/aws/session-manager-plugin/src/version"

// PluginVersion returns the version of the linked session-manager-plugin
// library, e.g. "1.3.0.0".
func PluginVersion() string {
	return version.Version
}
