package testconf

import (
	"fmt"
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

// TestManualSidesAgree: A's and B's manually keyed files, written apart,
// are valid and mirror each other: what one side sends under (SPI, keys)
// is what the other receives under, map by map, and no two maps share an
// SPI or a key.
func TestManualSidesAgree(t *testing.T) {
	load := func(b bool) *conf.Config {
		m := Manual{Peer: "192.0.2.2", ESP: "aes256", ESPAuth: "sha256", AH: "sha1", Seed: "t", B: b,
			Rules: []string{"permit ip 10.1.1.0/24 10.2.1.0/24", "permit ip 10.1.2.0/24 10.2.2.0/24"}}
		cfg, err := conf.Parse("manual.toml", []byte(m.TOML("")))
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.CryptoMaps) != 2 {
			t.Fatalf("%d crypto maps, want 2", len(cfg.CryptoMaps))
		}
		return cfg
	}
	a, b := load(false), load(true)
	seen := map[string]bool{}
	for i := range a.CryptoMaps {
		ka, kb := a.CryptoMaps[i].Manual, b.CryptoMaps[i].Manual
		if ka == nil || kb == nil {
			t.Fatalf("map %d is not manually keyed", i)
		}
		if ka.SPIOut != kb.SPIIn || ka.SPIIn != kb.SPIOut || ka.AHSPIOut != kb.AHSPIIn || ka.AHSPIIn != kb.AHSPIOut {
			t.Errorf("map %d: SPIs A %+v, B %+v", i, ka, kb)
		}
		pairs := [][2]conf.Secret{{ka.ESPKeyOut, kb.ESPKeyIn}, {ka.ESPKeyIn, kb.ESPKeyOut},
			{ka.ESPAuthKeyOut, kb.ESPAuthKeyIn}, {ka.ESPAuthKeyIn, kb.ESPAuthKeyOut},
			{ka.AHKeyOut, kb.AHKeyIn}, {ka.AHKeyIn, kb.AHKeyOut}}
		for j, p := range pairs {
			if len(p[0]) == 0 || string(p[0]) != string(p[1]) {
				t.Errorf("map %d: key %d differs between A and B (or is empty)", i, j)
			}
			if seen[string(p[0])] {
				t.Errorf("map %d: key %d used twice", i, j)
			}
			seen[string(p[0])] = true
		}
		for _, spi := range []uint32{ka.SPIIn, ka.SPIOut, ka.AHSPIIn, ka.AHSPIOut} {
			s := fmt.Sprint("spi ", spi)
			if seen[s] {
				t.Errorf("map %d: SPI %#x used twice", i, spi)
			}
			seen[s] = true
		}
	}
}
