// Package helm holds no code: its tests render the Helm chart beside them
// (Chart.yaml, values.yaml, templates/) with Helm's own Go library, decode
// every object strictly into the Kubernetes API types, and load the
// gateway configuration the chart ships with internal/config. It imports
// Helm and the Kubernetes API types in tests only; nothing imports it.
package helm
