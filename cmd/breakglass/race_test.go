//go:build race

package main

// raceEnabled makes the end-to-end tests build the binary under test with
// -race too, so that races in the supervisor fail the tests.
const raceEnabled = true
