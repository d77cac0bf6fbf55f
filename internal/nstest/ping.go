package nstest

import (
	"regexp"
	"strconv"
)

// Ping is what the output of ping (iputils) says about a run.
type Ping struct {
	Sent, Received int          // from the summary line
	Answered       map[int]bool // sequence numbers that got a reply
	Last           int          // the highest of them (0: none)
}

var (
	pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
	pingReply   = regexp.MustCompile(`bytes from .* icmp_seq=(\d+)`)
)

// ParsePing reads ping's output. ok is false when it has no summary line
// (ping still runs, or was killed); the replies are read in any case.
func ParsePing(out string) (p Ping, ok bool) {
	p.Answered = map[int]bool{}
	for _, r := range pingReply.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(r[1])
		p.Answered[n] = true
		p.Last = max(p.Last, n)
	}
	m := pingSummary.FindStringSubmatch(out)
	if m == nil {
		return p, false
	}
	p.Sent, _ = strconv.Atoi(m[1])
	p.Received, _ = strconv.Atoi(m[2])
	return p, true
}

// Lossless reports a finished ping whose every echo was answered.
func (p Ping) Lossless() bool { return p.Sent > 0 && p.Received == p.Sent }

// Lost lists the echoes up to last that got no reply.
func (p Ping) Lost(last int) []int {
	var lost []int
	for seq := 1; seq <= last; seq++ {
		if !p.Answered[seq] {
			lost = append(lost, seq)
		}
	}
	return lost
}
