package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"tinyipsec/conf"
	"tinyipsec/internal/dataplane"
	"tinyipsec/internal/errjoin"
	"tinyipsec/internal/logx"
	"tinyipsec/internal/memory"
	"tinyipsec/internal/status"
)

// daemon is the running `tinyipsec run`.
type daemon struct {
	_       [0]func() // not comparable: no generated == function (flash)
	path    string
	log     *logx.Logger
	level   *logx.LevelVar // log_level, changed by a reload
	started time.Time

	mu  sync.Mutex // serialises reloads and status against each other
	cfg *conf.Config
	// The running parts (nil once closed), started in this order and
	// closed in reverse (closeParts). Each adds its SAs and counters
	// to status, and switches to a new, already validated configuration
	// on reload: crypto maps whose fingerprint did not change keep their
	// SAs. They are two concrete fields, not a list of an interface: a
	// part in an interface kept the names of all its methods, and of the
	// IKE manager's, in the binary.
	dp  *dataplane.Dataplane
	ike *ikeDaemon
}

func parseLevel(s string) logx.Level {
	switch strings.ToLower(s) {
	case "error":
		return logx.LevelError
	case "warn", "warning":
		return logx.LevelWarn
	case "debug":
		return logx.LevelDebug
	default:
		return logx.LevelInfo
	}
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	path, cfg, code := configFromArgs("run", args, stderr)
	if code != exitOK {
		return code
	}
	memory.SetDefaults()
	// Logs go to stderr in logfmt without timestamps: procd hands stderr
	// to logd, which stamps every line itself.
	level := new(logx.LevelVar)
	level.Set(parseLevel(cfg.Global.LogLevel))
	log := logx.New(stderr, level)

	// The parts start in dependency order: the data plane first (IKE
	// sends on its sockets and installs SAs into its engine), then IKE.
	// closeParts closes them in reverse order, so IKE's Delete
	// notifications still leave through the data plane's sockets.
	d := &daemon{path: path, log: log, level: level, cfg: cfg, started: time.Now()}
	var err error
	if d.dp, err = dataplane.Start(cfg, log); err != nil {
		log.Error("start failed", "err", err)
		return exitFail
	}
	if d.ike, err = startIKE(cfg, d.dp, log); err != nil {
		d.dp.Close()
		log.Error("start failed", "err", err)
		return exitFail
	}

	ctl, err := listenControl(cfg.Global.ControlSocket, d, log)
	if err != nil {
		log.Error("start failed", "err", err)
		d.closeParts()
		return exitFail
	}
	log.Info("tinyipsec started", "version", version, "config", path, "crypto_maps", len(cfg.CryptoMaps))
	if os.Getenv(conf.TestShortLifetimesEnv) == "1" {
		log.Warn("test mode: lifetimes down to 5 s accepted; never run a router like this", "env", conf.TestShortLifetimesEnv)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			if err := d.reload(); err != nil {
				log.Error("reload", "err", err)
			}
			continue
		}
		log.Info("shutting down", "signal", sig.String())
		break
	}
	signal.Reset(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	ctl.Close()
	d.closeParts()
	log.Info("stopped")
	return exitOK
}

func (d *daemon) closeParts() {
	d.mu.Lock()
	dp, ik := d.dp, d.ike
	d.dp, d.ike = nil, nil
	d.mu.Unlock()
	if ik != nil {
		ik.Close() // IKE's Delete notifications leave through the data plane
		dp.Close()
	}
}

// reload re-reads the configuration file. An invalid file changes
// nothing: every error is logged and the running configuration stays.
func (d *daemon) reload() error {
	d.mu.Lock()
	err := d.reloadLocked()
	d.mu.Unlock()
	return err
}

func (d *daemon) reloadLocked() error {
	next, err := conf.Load(d.path)
	if err != nil {
		n := 1
		if errs, ok := err.(conf.Errors); ok { // conf returns Errors unwrapped
			for _, e := range errs {
				d.log.Error("configuration error", "error", e.Error())
			}
			n = len(errs)
		}
		return fmt.Errorf("%s is invalid (%d errors)", d.path, n)
	}
	keepRestartOnly(d.log, d.cfg, next)
	if next.Equal(d.cfg) {
		d.log.Info("configuration unchanged", "config", d.path)
		return nil
	}
	// Every part gets the new configuration even when one fails: a
	// failure in one (a route the kernel refused) must not leave the
	// crypto maps of the others on the old configuration.
	var errs []error
	if d.ike != nil {
		// The data plane first: IKE installs into its new entries.
		for _, err := range [...]error{d.dp.Reload(d.cfg, next), d.ike.Reload(d.cfg, next)} {
			if err != nil {
				d.log.Error("reload step failed", "err", err)
				errs = append(errs, err)
			}
		}
	}
	d.cfg = next
	if d.level != nil {
		d.level.Set(parseLevel(next.Global.LogLevel)) // applies at once
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration reloaded with %d errors: %w", len(errs), errjoin.Join(errs))
	}
	d.log.Info("configuration reloaded", "config", d.path, "crypto_maps", len(next.CryptoMaps))
	return nil
}

// keepRestartOnly puts the running values of the [global] settings that
// only take effect at start (the TUN device, the sockets) into next, and
// logs each one that the file changed.
func keepRestartOnly(log *logx.Logger, running, next *conf.Config) {
	r, n := &running.Global, &next.Global
	// The listen lists compared here rather than by slices.Equal, whose
	// instance for netip.Addr nothing else links (flash).
	listenChanged := len(n.Listen) != len(r.Listen)
	for i := 0; !listenChanged && i < len(n.Listen); i++ {
		listenChanged = n.Listen[i] != r.Listen[i]
	}
	// A table and one loop rather than a closure called per setting (a
	// function of its own; flash).
	for _, s := range [...]struct {
		key                 string
		changed             bool
		running, configured any
	}{
		{"tun", n.Tun != r.Tun, r.Tun, n.Tun},
		{"mtu", n.MTU != r.MTU, r.MTU, n.MTU},
		{"listen", listenChanged, r.Listen, n.Listen},
		{"control_socket", n.ControlSocket != r.ControlSocket, r.ControlSocket, n.ControlSocket},
	} {
		if s.changed {
			log.Warn("setting needs a restart; keeping the running value", "key", "global."+s.key,
				"running", s.running, "configured", s.configured)
		}
	}
	n.Tun, n.MTU, n.Listen, n.ControlSocket = r.Tun, r.MTU, r.Listen, r.ControlSocket
}

func (d *daemon) status() *status.Report {
	d.mu.Lock()
	r := &status.Report{
		Version:  version,
		Config:   d.path,
		UptimeS:  int64(time.Since(d.started) / time.Second),
		IKESAs:   []status.IKESA{},
		IPsecSAs: []status.IPsecSA{},
	}
	if d.ike != nil {
		d.dp.AddStatus(r)
		if d.ike.enabled {
			d.ike.mgr.AddStatus(r) // after the data plane: it marks the pairs listed
		}
	}
	d.mu.Unlock()
	return r
}

func (d *daemon) summary() status.Summary {
	d.mu.Lock()
	var s status.Summary
	if d.ike != nil {
		d.dp.AddSummary(&s)
		if d.ike.enabled {
			s.IKESAs += d.ike.mgr.SACount()
		}
	}
	d.mu.Unlock()
	return s
}
