// Package deploy holds no code: its tests check the deployment files
// beside them (docker-compose.yml, the Grafana provisioning, the
// Prometheus configuration and rules, and the repository's Dockerfile).
// Docker itself cannot run where the tests run, so they load the compose
// file with compose-go and check what it references, and run promtool on
// the Prometheus files.
package deploy
