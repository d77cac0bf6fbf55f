package apkv3

import "strings"

// ValidName reports whether s is a package name apk accepts: a letter or
// digit, then letters, digits and + - . _
func ValidName(s string) bool {
	if s == "" || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("+-._", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' }

var versionSuffixes = []string{"alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"}

// ValidVersion reports whether s follows apk's version syntax:
//
//	number{.number}...{letter}{_suffix{number}}...{~hexhash}{-rN}
//
// with suffix one of alpha, beta, pre, rc, cvs, svn, git, hg, p. apk
// refuses to install a package whose version does not parse.
func ValidVersion(s string) bool {
	i := 0
	digits := func() bool {
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		return i > j
	}
	if !digits() {
		return false
	}
	for i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
		i++
	}
	for i < len(s) && s[i] == '_' {
		i++
		j := i
		for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
			i++
		}
		if !containsString(versionSuffixes, s[j:i]) {
			return false
		}
		digits()
	}
	if i < len(s) && s[i] == '~' {
		i++
		j := i
		for i < len(s) && isHex(s[i]) {
			i++
		}
		if i == j {
			return false
		}
	}
	if strings.HasPrefix(s[i:], "-r") {
		i += 2
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
