// Command sizefloor is the dependency floor of the flash budget (README,
// Footprint): a program that uses the standard library and the modules
// tinyipsec depends on the way the daemon does (x509 parsing and Verify,
// PKCS#1/PKCS#8/SEC 1 keys, RSA and ECDSA signatures, ECDH on the NIST
// curves and X25519, MODP exponentiation, the ESP ciphers and hashes,
// bcrypt, a toml decode, netlink messages over a socket of plain system
// calls, x/sys/unix, a UDP socket of system calls in the runtime's poller,
// fmt, signals, time formatting) and nothing of tinyipsec's own. `make
// size-floor` builds it with the release flags; what the daemon weighs
// above it is the product's code. It is never installed or run.
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"iter"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"filippo.io/bigmod"
	"github.com/BurntSushi/toml"
	"github.com/mdlayher/netlink"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/unix"
)

func main() {
	var v map[string]any
	if _, err := toml.DecodeFile(os.Args[1], &v); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	der, _ := os.ReadFile("c.pem")
	b, _ := pem.Decode(der)
	if b != nil {
		c, err := x509.ParseCertificate(b.Bytes)
		if err == nil {
			pool := x509.NewCertPool()
			pool.AddCert(c)
			_, err = c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: time.Now()})
			fmt.Println(err, c.Subject.String())
		}
		if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			fmt.Println(k)
		}
		if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			h := sha256.Sum256(der)
			s, _ := rsa.SignPKCS1v15(rand.Reader, k, 0, h[:])
			fmt.Println(rsa.VerifyPKCS1v15(&k.PublicKey, 0, h[:], s))
		}
		if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
			h := sha256.Sum256(der)
			s, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
			fmt.Println(ecdsa.VerifyASN1(&k.PublicKey, h[:], s))
		}
	}
	for _, c := range []ecdh.Curve{ecdh.P256(), ecdh.P384(), ecdh.P521(), ecdh.X25519()} {
		k, _ := c.GenerateKey(rand.Reader)
		s, _ := k.ECDH(k.PublicKey())
		fmt.Println(len(s))
	}
	p, _ := new(big.Int).SetString(os.Args[0], 16)
	m, err := bigmod.NewModulus(p.Bytes())
	if err == nil {
		x, _ := bigmod.NewNat().SetBytes(der, m)
		fmt.Println(bigmod.NewNat().Exp(x, der, m).Bytes(m))
	}
	key := make([]byte, 32)
	rand.Read(key)
	blk, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(blk)
	cbc := cipher.NewCBCEncrypter(blk, key[:16])
	ctr := cipher.NewCTR(blk, key[:16])
	d3, _ := des.NewTripleDESCipher(key[:24])
	cp, _ := chacha20poly1305.New(key)
	buf := make([]byte, 64)
	cbc.CryptBlocks(buf, buf)
	ctr.XORKeyStream(buf, buf)
	d3.Encrypt(buf, buf)
	fmt.Println(g.Seal(nil, key[:12], buf, nil), cp.Seal(nil, key[:12], buf, nil))
	fmt.Println(hmac.New(sha1.New, key).Sum(nil), hmac.New(sha512.New, key).Sum(nil), hmac.New(md5.New, key).Sum(nil), hmac.New(sha512.New384, key).Sum(nil))
	hp, _ := bcrypt.GenerateFromPassword(key, 4)
	fmt.Println(bcrypt.CompareHashAndPassword(hp, key))
	if nfd, err := syscall.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE); err == nil {
		c := netlink.NewConn(nlSocket(nfd), 0)
		msgs, _ := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump}})
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(1, 2)
		ad, _ := netlink.NewAttributeDecoder(msgs[0].Data)
		for ad.Next() {
			fmt.Println(ad.Type())
		}
	}
	if ufd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK, 0); err == nil {
		a := netip.MustParseAddrPort("[::]:500")
		syscall.Bind(ufd, &syscall.SockaddrInet6{Port: int(a.Port())})
		rc, _ := os.NewFile(uintptr(ufd), "udp").SyscallConn()
		rc.Read(func(fd uintptr) bool {
			n, _, _, from, err := syscall.Recvmsg(int(fd), buf, buf, 0)
			fmt.Println(n, from, err)
			return err != syscall.EAGAIN
		})
		fmt.Println(net.IP(buf[:16]).String())
	}
	fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_RAW, 50)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM)
	fmt.Println(time.Now().Format(time.RFC3339), <-sig)
}

// nlSocket is the smallest netlink.Socket: the daemon drives its
// NETLINK_ROUTE socket with blocking system calls the same way.
type nlSocket int

func (s nlSocket) Close() error { return syscall.Close(int(s)) }
func (s nlSocket) Send(m netlink.Message) error {
	b, err := m.MarshalBinary()
	if err == nil {
		err = syscall.Sendto(int(s), b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})
	}
	return err
}
func (s nlSocket) SendMessages(ms []netlink.Message) error { return s.Send(ms[0]) }
func (s nlSocket) Receive() ([]netlink.Message, error) {
	b := make([]byte, 65536)
	n, _, err := syscall.Recvfrom(int(s), b, 0)
	if err != nil {
		return nil, err
	}
	var m netlink.Message
	return []netlink.Message{m}, m.UnmarshalBinary(b[:n])
}
func (s nlSocket) ReceiveIter() iter.Seq2[netlink.Message, error] {
	return func(yield func(netlink.Message, error) bool) {
		ms, err := s.Receive()
		for _, m := range ms {
			if !yield(m, err) {
				return
			}
		}
	}
}
