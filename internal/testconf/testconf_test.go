package testconf

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tinyipsec/conf"
)

// TestIKEParses: what IKE renders is a valid configuration that carries
// the values set and the defaults for the rest.
func TestIKEParses(t *testing.T) {
	c := IKE{LogLevel: "info", Peer: "192.0.2.2", Local: "192.0.2.1", PSK: "test-psk-1234", PFS: 14,
		ACLRules: []string{"permit ip 10.1.0.0/24 10.2.0.0/24", "permit ip 10.1.1.0/24 10.2.1.0/24"},
		Listen:   true, DPDDelay: "10s", DPDTimeout: "30s", Initiate: "never"}
	config, control, err := c.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.ControlSocket != control || cfg.Global.LogLevel != "info" || len(cfg.Global.Listen) != 1 {
		t.Errorf("global %+v", cfg.Global)
	}
	if len(cfg.Policies) != 1 || cfg.Policies[0].Group != 14 || cfg.Policies[0].Lifetime != 4*time.Hour {
		t.Errorf("policies %+v", cfg.Policies)
	}
	if len(cfg.CryptoMaps) != 1 {
		t.Fatalf("%d crypto maps", len(cfg.CryptoMaps))
	}
	m := cfg.CryptoMaps[0]
	if m.Peer != c.Peer || string(m.PSK) != c.PSK || m.PFS != 14 || m.Lifetime != time.Hour ||
		string(m.Initiate) != "never" || len(m.ACL.Rules) != 2 || m.TransformSets[0].ESP != "aes128gcm16" {
		t.Errorf("crypto map %+v", m)
	}
	if filepath.Base(config) != "tinyipsec.toml" {
		t.Errorf("config at %s", config)
	}
}

// TestPSKHead: PSKHead is how IKE's configuration begins with the DH
// group asked for, so what follows it in a test makes a valid whole.
func TestPSKHead(t *testing.T) {
	c := IKE{Peer: "192.0.2.2", PSK: "test-psk-1234", ACL: "permit ip 10.1.0.0/24 10.2.0.0/24",
		Policy: strings.Replace(DefaultPolicy, "group = 14", "group = 19", 1)}
	text := c.TOML("")
	if !strings.HasPrefix(text, PSKHead("debug", "", 19)) {
		t.Fatalf("%q does not begin with %q", text, PSKHead("debug", "", 19))
	}
	cfg, err := conf.Parse("head.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policies[0].Group != 19 {
		t.Errorf("group %v, want 19", cfg.Policies[0].Group)
	}
}
