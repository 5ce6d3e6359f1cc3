//go:build race

package bench

// raceEnabled: the race detector makes the client several times slower,
// so that on a small machine it, not the backend, is the bottleneck of
// hundreds of streams (ClientLag says so).
const raceEnabled = true
