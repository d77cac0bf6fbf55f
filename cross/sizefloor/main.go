// Command sizefloor is the dependency floor of the flash budget (README,
// Footprint): a program that uses the standard library and the modules
// tinyipsec depends on the way the daemon does (x509 parsing and Verify,
// PKCS#1/PKCS#8/SEC 1 keys, RSA and ECDSA signatures, ECDH on the NIST
// curves and X25519, MODP exponentiation, the ESP ciphers and hashes,
// bcrypt, a toml decode, netlink messages and errors over a socket of
// plain system calls, x/sys/unix, a UDP socket of system calls in the
// runtime's poller, fmt, signals, time formatting) and nothing of tinyipsec's own. `make
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
	"errors"
	"fmt"
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
		// The daemon codes its rtnetlink messages with netlink's Message
		// and reports failures as netlink's OpError; it exchanges them on
		// a socket of blocking system calls itself (tun/rtnl_socket.go).
		q := netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump}}
		b, _ := q.MarshalBinary()
		err = syscall.Sendto(nfd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})
		if err == nil {
			b = make([]byte, 65536)
			var n int
			n, _, err = syscall.Recvfrom(nfd, b, 0)
			if err == nil {
				err = q.UnmarshalBinary(b[:n])
			}
		}
		if err != nil {
			err = &netlink.OpError{Op: "receive", Err: err}
		}
		_, isOp := errors.AsType[*netlink.OpError](err)
		fmt.Println(q.Header.Type, isOp)
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
