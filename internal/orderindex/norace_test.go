//go:build !race

package orderindex

const raceEnabled = false
