package ike

// Remote access against strongSwan: tinyipsec as the XAUTH/Mode-Config
// client of a charon gateway (address pool, DNS, split network pushed as
// Cisco Unity split-include), and charon as the client of tinyipsec's
// gateway; plus two tinyipsec clients on one tinyipsec gateway.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"tinyipsec/internal/status"

	"golang.org/x/crypto/bcrypt"

	"tinyipsec/internal/nstest"
)

const (
	raGroupKey = "ra-group-key"
	raPassword = "correct horse"
	raPoolNet  = "10.77.0.0/24"
	raDNS      = "10.222.0.53"
	// raOutside is an address on the gateway's side outside the split
	// network: traffic to it must not enter the tunnel.
	raOutside = "10.233.0.1"
	raPool6   = "fd00:77::/120"
	raSplit6  = "fd00:222::/64"
	raInner6  = "fd00:222::1"
)

// raCharon describes the strongSwan side of a remote-access test.
type raCharon struct {
	Gateway    bool
	Aggressive bool
	Push       bool
	LocalAddr  string
	RemoteAddr string
	LocalID    string
	RemoteID   string
	Split      string
	Split6     string // an IPv6 network sent as INTERNAL_IP6_SUBNET
	Pool       string
	Pool6      string
	DNS        string
	PSK        string
	User       string
	Password   string
}

// startRACharon starts charon with XAUTH and Unity and loads conn.
func startRACharon(t *testing.T, ns *nstest.NS, conn raCharon) *charon {
	t.Helper()
	c := newCharon(t, ns, "strongswan-ra.conf.tmpl")
	c.start(t)
	if conn.LocalID == "" {
		conn.LocalID = conn.LocalAddr
	}
	file := filepath.Join(c.dir, "swanctl.conf")
	writeTemplate(t, "swanctl-ra.conf.tmpl", file, conn)
	if out, err := c.swanctl("--load-all", "--noprompt", "--file", file); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return c
}

// requireXAuthGeneric skips (fails under CI) without strongSwan's
// xauth-generic plugin (Debian: libcharon-extauth-plugins).
func requireXAuthGeneric(t *testing.T) {
	t.Helper()
	requireStrongSwan(t)
	if _, err := os.Stat(filepath.Join(filepath.Dir(charonBinary()), "plugins", "libstrongswan-xauth-generic.so")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must provide strongSwan's xauth-generic plugin (libcharon-extauth-plugins)")
		}
		t.Skip("needs strongSwan's xauth-generic plugin (libcharon-extauth-plugins)")
	}
}

// raTOML is a tinyipsec configuration with one remote-access map.
func raTOML(t *testing.T, dir, mapBody string) (config, control string) {
	t.Helper()
	control = filepath.Join(dir, "ctl.sock")
	cfg := tisHead("debug", control, 14) + fmt.Sprintf(`
[[crypto_map]]
name = "RA"
seq = 10
transform_set = ["TS"]
psk = %q
%s`, raGroupKey, mapBody)
	config = filepath.Join(dir, "tinyipsec.toml")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return config, control
}

// startRATinyipsec runs tinyipsec with a remote-access map in ns.
func startRATinyipsec(t *testing.T, ns *nstest.NS, mapBody string) *tisNode {
	t.Helper()
	n := &tisNode{ns: ns, bin: tinyipsecBinary(t)}
	n.config, n.control = raTOML(t, t.TempDir(), mapBody)
	n.run(t)
	return n
}

// raStatus is the remote-access part of `tinyipsec status --json`.
type raStatus = status.Report

func (n *tisNode) raStatus(t *testing.T) *raStatus {
	t.Helper()
	out, err := n.ns.Output(n.bin, "status", "-c", n.config, "--json")
	if err != nil {
		return &raStatus{}
	}
	var s raStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status JSON: %v: %s", err, out)
	}
	return &s
}

// pktsOut sums the packets the IPsec SAs encrypted.
func pktsOut(s *raStatus) (n uint64) {
	for _, sa := range s.IPsecSAs {
		n += sa.PktsOut
	}
	return n
}

// raTwoHosts is the two-namespace topology plus an address outside the
// split network on the right, routed from the left in the clear.
func raTwoHosts(t *testing.T) (left, right *nstest.NS) {
	left, right = twoHosts(t)
	right.Run(t, "ip", "addr", "add", raOutside+"/32", "dev", "lo")
	left.Run(t, "ip", "route", "add", raOutside+"/32", "via", rightOuter)
	return left, right
}

// TestInteropRAClientOfStrongSwan: tinyipsec joins a charon gateway with
// XAUTH, gets an address from its pool, the DNS server and the split
// network (Unity split-include); traffic to the split network crosses
// the tunnel, traffic to another address does not. Main Mode with
// Mode-Config pull, Aggressive Mode with push.
func TestInteropRAClientOfStrongSwan(t *testing.T) {
	requireXAuthGeneric(t)
	for _, tc := range []struct {
		name       string
		aggressive bool
		push       bool
		ipv6       bool
	}{{"main-pull-ipv6", false, false, true}, {"aggressive-push-group-keyid", true, true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			left, right := raTwoHosts(t)
			split6, pool6 := "", ""
			if tc.ipv6 {
				// An IPv6 inner address and network too, over the IPv4
				// outer path.
				split6, pool6 = raSplit6, raPool6
				right.Run(t, "ip", "-6", "addr", "add", raInner6+"/128", "dev", "lo")
			}
			group, groupID := "", ""
			if tc.aggressive {
				// The group name as ID_KEY_ID, as Cisco clients send it.
				group, groupID = "local_id = \"keyid:SALES\"\n", "keyid:SALES"
			}
			ss := startRACharon(t, right, raCharon{Gateway: true, Aggressive: tc.aggressive, Push: tc.push, RemoteID: groupID, Split6: split6, Pool6: pool6,
				LocalAddr: rightOuter, Split: rightSubnet, Pool: raPoolNet, DNS: raDNS, PSK: raGroupKey, User: "alice", Password: raPassword})
			resolv := filepath.Join(t.TempDir(), "resolv.conf")
			exchange, modecfg := "main", "pull"
			if tc.aggressive {
				exchange = "aggressive"
			}
			if tc.push {
				modecfg = "push"
			}
			tis := startRATinyipsec(t, left, fmt.Sprintf("peer = %q\nlocal = %q\nexchange = %q\nxauth_user = \"alice\"\nxauth_password = %q\nmodecfg = %q\nresolv_file = %q\n%s",
				rightOuter, leftOuter, exchange, raPassword, modecfg, resolv, group))
			var st *raStatus
			wantSAs, wantSplit := 1, rightSubnet
			if tc.ipv6 {
				wantSAs, wantSplit = 2, rightSubnet+" "+raSplit6
			}
			nstest.WaitFor(t, 30*time.Second, "remote-access SA active with its IPsec SAs", func() bool {
				st = tis.raStatus(t)
				return len(st.IKESAs) == 1 && st.IKESAs[0].RemoteAccess == "active" && len(st.IPsecSAs) == wantSAs
			})
			sa := st.IKESAs[0]
			vip, _, _ := strings.Cut(sa.Assigned, " ")
			if !strings.HasPrefix(vip, "10.77.0.") || sa.User != "alice" || strings.Join(sa.DNS, " ") != raDNS ||
				strings.Join(sa.Split, " ") != wantSplit {
				t.Fatalf("remote-access status %+v", sa)
			}
			sels := map[string]string{}
			for _, s := range st.IPsecSAs {
				sels[s.RemoteSelector] = s.LocalSelector
			}
			if sels[rightSubnet] != vip+"/32" {
				t.Fatalf("IPsec SA selectors %v", sels)
			}
			if tc.ipv6 {
				_, vip6, _ := strings.Cut(sa.Assigned, " ")
				if !strings.HasPrefix(vip6, "fd00:77::") || sels[raSplit6] != vip6+"/128" {
					t.Fatalf("IPv6: assigned %q, selectors %v", sa.Assigned, sels)
				}
				if out := left.Run(t, "ip", "-6", "addr", "show", "dev", "ipsec0"); !strings.Contains(out, vip6+"/128") {
					t.Fatalf("IPv6 address not on the TUN:\n%s", out)
				}
				if out, err := left.Output("ping", "-6", "-c", "1", "-W", "2", raInner6); err != nil {
					t.Fatalf("ping to the IPv6 split network: %v %s", err, out)
				}
			}
			sa.Assigned = vip
			if out := left.Run(t, "ip", "-4", "addr", "show", "dev", "ipsec0"); !strings.Contains(out, sa.Assigned+"/32") {
				t.Fatalf("assigned address not on the TUN:\n%s", out)
			}
			if b, err := os.ReadFile(resolv); err != nil || !strings.Contains(string(b), "nameserver "+raDNS) {
				t.Fatalf("resolv file: %v %q", err, b)
			}
			// Split network: through the tunnel, from the inner address
			// (the route's preferred source).
			pingAcross(t, left, sa.Assigned, rightInner)
			if out, err := left.Output("ping", "-c", "1", "-W", "2", rightInner); err != nil {
				t.Fatalf("ping without -I to the split network: %v %s", err, out)
			}
			before := pktsOut(tis.raStatus(t))
			if before == 0 {
				t.Fatal("traffic to the split network did not go through the IPsec SA")
			}
			// Outside the split network: in the clear, not through the SA.
			if out, err := left.Output("ping", "-c", "2", "-W", "2", raOutside); err != nil {
				t.Fatalf("ping outside the split network: %v %s", err, out)
			}
			if after := pktsOut(tis.raStatus(t)); after != before {
				t.Fatalf("traffic outside the split network entered the tunnel: %d -> %d packets", before, after)
			}
			if !strings.Contains(ss.listSAs(), sa.Assigned) {
				t.Fatalf("strongSwan does not show the virtual IP %s:\n%s", sa.Assigned, ss.listSAs())
			}
			// Once tinyipsec stops, the pushed DNS servers are unreachable:
			// the resolv file goes with the tunnel.
			if err := tis.proc.Stop(); err != nil {
				t.Logf("stopping tinyipsec: %v", err)
			}
			if _, err := os.Stat(resolv); !os.IsNotExist(err) {
				t.Fatalf("resolv file left behind after shutdown: %v", err)
			}
		})
	}
}

// TestInteropRAWrongPassword: charon refuses the XAUTH password; the
// client says so in status and does not try again.
func TestInteropRAWrongPassword(t *testing.T) {
	requireXAuthGeneric(t)
	left, right := twoHosts(t)
	ss := startRACharon(t, right, raCharon{Gateway: true, LocalAddr: rightOuter, Split: rightSubnet, Pool: raPoolNet,
		DNS: raDNS, PSK: raGroupKey, User: "alice", Password: raPassword})
	tis := startRATinyipsec(t, left, fmt.Sprintf("peer = %q\nlocal = %q\nxauth_user = \"alice\"\nxauth_password = \"wrong password\"\n",
		rightOuter, leftOuter))
	var hint string
	nstest.WaitFor(t, 30*time.Second, "the refusal in status", func() bool {
		for _, sa := range tis.raStatus(t).IKESAs {
			if strings.Contains(sa.Hint, "wrong user name or password") {
				hint = sa.Hint
				return true
			}
		}
		return false
	})
	if strings.Contains(hint, "wrong password\"") || strings.Contains(tis.proc.Output(), "wrong password\"") {
		t.Fatal("the password shows in status or the log")
	}
	// No retry: charon sees one IKE_SA attempt only.
	out := ss.proc.Output()
	if n := strings.Count(out, "received XAuth"); n > 1 {
		t.Fatalf("client retried (%d XAUTH rounds)", n)
	}
	if strings.Contains(tis.proc.Output(), "wrong password") {
		t.Fatal("the password reached the log")
	}
}

// raUsersFile writes a users file with alice's bcrypt hash.
func raUsersFile(t *testing.T, users ...string) string {
	t.Helper()
	var b strings.Builder
	for _, u := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(raPassword), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	f := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// raGatewayMap is the map body of a tinyipsec gateway on the left.
func raGatewayMap(t *testing.T, pool string, users ...string) string {
	return fmt.Sprintf("peer = \"dynamic\"\npool = %q\nxauth_users_file = %q\ndns = [%q]\nsplit_networks = [%q]\n",
		pool, raUsersFile(t, users...), "10.212.0.53", leftSubnet)
}

// TestInteropRAStrongSwanClient: charon joins tinyipsec's gateway (XAUTH,
// address from the pool, Unity split-include) and pings the split
// network from its virtual IP; Mode-Config pulled by charon, or pushed by
// tinyipsec (modecfg = "push", charon with pull = no).
func TestInteropRAStrongSwanClient(t *testing.T) {
	requireXAuthGeneric(t)
	bothWays(t, "pull", "push", func(t *testing.T, push bool) {
		left, right := twoHosts(t)
		gwMap := raGatewayMap(t, "10.78.0.10-10.78.0.20", "alice")
		if push {
			gwMap += "modecfg = \"push\"\n"
		}
		gw := startRATinyipsec(t, left, gwMap)
		ss := startRACharon(t, right, raCharon{LocalAddr: rightOuter, RemoteAddr: leftOuter, Split: leftSubnet, Push: push,
			PSK: raGroupKey, User: "alice", Password: raPassword})
		ss.initiateChild(t, "rw")
		var st *raStatus
		nstest.WaitFor(t, 30*time.Second, "the client's SA active on the gateway", func() bool {
			st = gw.raStatus(t)
			return len(st.IKESAs) == 1 && st.IKESAs[0].RemoteAccess == "active" && len(st.IPsecSAs) == 1
		})
		vip := st.IKESAs[0].Assigned
		if vip != "10.78.0.10" || st.IKESAs[0].User != "alice" {
			t.Fatalf("gateway status %+v", st.IKESAs[0])
		}
		if !strings.Contains(ss.listSAs(), vip) {
			t.Fatalf("strongSwan did not install %s:\n%s", vip, ss.listSAs())
		}
		pingAcross(t, right, vip, leftInner)
		if st := gw.raStatus(t); st.IPsecSAs[0].RemoteSelector != vip+"/32" || st.IPsecSAs[0].PktsIn == 0 {
			t.Fatalf("gateway IPsec SA %+v", st.IPsecSAs)
		}
	})
}

// TestInteropRAStrongSwanWrongPassword: tinyipsec's gateway refuses
// charon's wrong password and says why.
func TestInteropRAStrongSwanWrongPassword(t *testing.T) {
	requireXAuthGeneric(t)
	left, right := twoHosts(t)
	gw := startRATinyipsec(t, left, raGatewayMap(t, "10.78.0.10-10.78.0.20", "alice"))
	ss := startRACharon(t, right, raCharon{LocalAddr: rightOuter, RemoteAddr: leftOuter, Split: leftSubnet,
		PSK: raGroupKey, User: "alice", Password: "not it"})
	ss.swanctl("--initiate", "--child", "rw", "--timeout", "10")
	nstest.WaitFor(t, 30*time.Second, "the refusal in the gateway's status", func() bool {
		for _, sa := range gw.raStatus(t).IKESAs {
			if strings.Contains(sa.Hint, `XAUTH refused user "alice": wrong password`) {
				return true
			}
		}
		return false
	})
	if strings.Contains(gw.proc.Output(), "not it") {
		t.Fatal("the password reached the log")
	}
}

// TestInteropRATwoClients: two tinyipsec clients on one tinyipsec gateway
// get different addresses and both pass traffic; when one leaves, its
// address goes back to the pool.
func TestInteropRATwoClients(t *testing.T) {
	requireXAuthGeneric(t)
	gwNS := nstest.New(t, "ra-gw")
	gwNS.Run(t, "ip", "addr", "add", leftInner+"/32", "dev", "lo")
	var clients []*nstest.NS
	var outers []string
	for i := range 2 {
		c := nstest.New(t, fmt.Sprintf("ra-c%d", i))
		gwAddr, cAddr := fmt.Sprintf("10.20%d.1.1", i+5), fmt.Sprintf("10.20%d.1.2", i+5)
		nstest.Link(t, gwNS, c, gwAddr+"/24", cAddr+"/24")
		clients, outers = append(clients, c), append(outers, gwAddr)
	}
	for _, ns := range append([]*nstest.NS{gwNS}, clients...) {
		ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	}
	gw := startRATinyipsec(t, gwNS, raGatewayMap(t, "10.78.0.10-10.78.0.11", "alice", "bob"))
	users := []string{"alice", "bob"}
	var nodes []*tisNode
	for i, c := range clients {
		nodes = append(nodes, startRATinyipsec(t, c, fmt.Sprintf("peer = %q\nxauth_user = %q\nxauth_password = %q\n",
			outers[i], users[i], raPassword)))
	}
	assigned := map[string]bool{}
	for i, n := range nodes {
		var st *raStatus
		nstest.WaitFor(t, 30*time.Second, "client active", func() bool {
			st = n.raStatus(t)
			return len(st.IKESAs) == 1 && st.IKESAs[0].RemoteAccess == "active" && len(st.IPsecSAs) == 1
		})
		vip := st.IKESAs[0].Assigned
		if assigned[vip] || !strings.HasPrefix(vip, "10.78.0.1") {
			t.Fatalf("client %d got %q (already: %v)", i, vip, assigned)
		}
		assigned[vip] = true
		pingAcross(t, clients[i], vip, leftInner)
	}
	// Both again, now that both SAs exist side by side.
	for i, n := range nodes {
		pingAcross(t, clients[i], n.raStatus(t).IKESAs[0].Assigned, leftInner)
	}
	// The first client leaves (Delete on shutdown): its address returns.
	gone := nodes[0].raStatus(t).IKESAs[0].Assigned
	if err := nodes[0].proc.Stop(); err != nil {
		t.Logf("stopping client 0: %v", err)
	}
	nstest.WaitFor(t, 20*time.Second, "the gateway forgets client 0", func() bool {
		return len(gw.raStatus(t).IKESAs) == 1
	})
	if !strings.Contains(gw.proc.Output(), "address returned to the pool") || !strings.Contains(gw.proc.Output(), gone) {
		t.Fatalf("no release of %s logged", gone)
	}
	// The address is free again: the first client comes back and gets it.
	nodes[0] = startRATinyipsec(t, clients[0], fmt.Sprintf("peer = %q\nxauth_user = %q\nxauth_password = %q\n",
		outers[0], users[0], raPassword))
	nstest.WaitFor(t, 30*time.Second, "client 0 back", func() bool {
		st := nodes[0].raStatus(t)
		return len(st.IKESAs) == 1 && st.IKESAs[0].Assigned == gone && len(st.IPsecSAs) == 1
	})
	pingAcross(t, clients[0], gone, leftInner)
}
