package main

import (
	"tinyipsec/conf"
	"tinyipsec/internal/dataplane"
	"tinyipsec/internal/logx"
)

// startComponents starts the daemon's parts in dependency order: the data
// plane first (IKE sends on its sockets and installs SAs into its engine),
// then IKE. They are closed in reverse order, so IKE's Delete
// notifications still leave through the data plane's sockets.
func startComponents(cfg *conf.Config, log *logx.Logger) (*dataplane.Dataplane, *ikeDaemon, error) {
	dp, err := dataplane.Start(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	ik, err := startIKE(cfg, dp, log)
	if err != nil {
		dp.Close()
		return nil, nil, err
	}
	return dp, ik, nil
}
