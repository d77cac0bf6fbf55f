package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"tinyipsec/conf"
	"tinyipsec/e2e"
	"tinyipsec/internal/nstest"
)

// The data plane tests run startDataplane in a copy of the test binary
// inside each namespace (a helper process), so they exercise the data
// plane without the rest of the daemon. The e2e package runs the same
// scenarios through `tinyipsec run`.

const dataplaneHelperEnv = "TINYIPSEC_DATAPLANE_HELPER_CONFIG"

func TestDataplaneHelperProcess(t *testing.T) {
	path := os.Getenv(dataplaneHelperEnv)
	if path == "" {
		t.Skip("only runs as a helper process of the data plane tests")
	}
	cfg, err := conf.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	d, err := startDataplane(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	d.Close()
	os.Exit(0)
}

func startHelper(t *testing.T, n *e2e.Node) {
	n.NS.Start(t, "dataplane", []string{dataplaneHelperEnv + "=" + n.Config},
		os.Args[0], "-test.run=^TestDataplaneHelperProcess$")
}

// TestDataplaneManual carries ping and a 10 MB TCP transfer over manually
// keyed SAs and checks the inbound cleartext policy. The e2e package runs
// every transform combination through the CLI; here one tunnel and one
// transport case keep the data plane covered on its own.
func TestDataplaneManual(t *testing.T) {
	nstest.Require(t, "ip", "nft", "ping", "socat", "ss", "sysctl")
	for _, c := range []e2e.Case{
		{Name: "esp-gcm-tunnel", ESP: "aes128gcm16"},
		{Name: "esp-cbc-transport", ESP: "aes256", ESPAuth: "sha256", Transport: true},
	} {
		t.Run(c.Name, func(t *testing.T) {
			a, b := e2e.RunManual(t, "dp", c, startHelper)
			if !c.Transport {
				e2e.CheckCleartextDropped(t, a, b, bypassMark)
			}
		})
	}
}
