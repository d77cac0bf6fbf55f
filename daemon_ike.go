package main

import (
	"strings"

	"tinyipsec/conf"
	"tinyipsec/ike"
	"tinyipsec/internal/dataplane"
	"tinyipsec/internal/logx"
	"tinyipsec/internal/memory"
)

// ikeDaemon runs the IKEv1 manager for the crypto maps with keying =
// "isakmp" and installs what it negotiates into the data plane's engine.
type ikeDaemon struct {
	_       [0]func() // not comparable: no generated == function (flash)
	log     *logx.Logger
	dp      *dataplane.Dataplane // for a reload that brings the first IKE-keyed map
	mgr     *ike.Manager
	plane   *dataplane.IKEPlane
	enabled bool
}

// startIKE starts IKE on the data plane's sockets. Without IKE-keyed
// crypto maps it returns an ikeDaemon that does nothing, so that the IKE
// ports only answer when there is something to negotiate.
func startIKE(cfg *conf.Config, dp *dataplane.Dataplane, logger *logx.Logger) (*ikeDaemon, error) {
	d := &ikeDaemon{log: logger, dp: dp}
	if !cfg.IKEKeyed() {
		return d, nil
	}
	d.plane = dp.IKEPlane()
	mgr, err := ike.NewManager(ike.Config{
		Conf:      cfg,
		Transport: dp.UDP(),
		DataPlane: d.plane,
		Log:       logger.With("part", "ike"),

		RemoteAccess: dp,
		// A burst of handshakes leaves megabytes of garbage; return it.
		Settled: (&memory.Settler{Log: logger}).Settled,
	})
	if err != nil {
		return nil, err
	}
	d.mgr, d.enabled = mgr, true
	dp.AttachIKE(mgr)
	mgr.Start()
	return d, nil
}

// reload hands the new configuration to the manager: unchanged crypto
// maps keep their SAs, changed and removed ones are deleted (with Delete
// notifications) and new ones start. The data plane has already switched
// its entries (see dataplane.reload).
func (d *ikeDaemon) Reload(old, next *conf.Config) error {
	if !d.enabled {
		if !next.IKEKeyed() || d.dp.UDP() == nil {
			return nil // nothing to negotiate, or no IKE sockets (logged by the data plane)
		}
		// The first IKE-keyed crypto map: start IKE as at startup, on
		// the sockets the data plane has just opened.
		nd, err := startIKE(next, d.dp, d.log)
		if err != nil {
			return err
		}
		*d = *nd
		d.log.Info("IKE started for the first IKE-keyed crypto map")
		return nil
	}
	res, err := d.mgr.Reload(next)
	if err != nil {
		return err
	}
	d.log.Info("IKE crypto maps reloaded", "kept", strings.Join(res.Kept, " "), "changed", strings.Join(res.Changed, " "),
		"removed", strings.Join(res.Removed, " "), "added", strings.Join(res.Added, " "))
	return nil
}

// Close sends Delete for every SA and removes them from the engine.
func (d *ikeDaemon) Close() error {
	if d.enabled {
		d.dp.DetachIKE()
		d.mgr.Close()
	}
	return nil
}
