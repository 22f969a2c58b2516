//go:build !race

package exec

// raceEnabled reports a -race build.
const raceEnabled = false
