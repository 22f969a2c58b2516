//go:build race

package exec

// raceEnabled reports a -race build. The plugin has data races, so a child
// built with -race would exit 66 after a clean session unless told otherwise.
const raceEnabled = true
