package queries

import "fmt"

// KStrategy says how a k-NN search reached (or failed to reach) k hits.
type KStrategy string

const (
	// KDirect: the first query returned k hits.
	KDirect KStrategy = "direct"
	// KWidened: a larger k (more candidates before filtering) was needed.
	KWidened KStrategy = "widened"
	// KExact: widening did not get k hits; exact search over the filtered
	// documents did.
	KExact KStrategy = "exact"
	// KExhausted: fewer than k documents match the filter at all; every one
	// of them was returned.
	KExhausted KStrategy = "exhausted"
	// KShort: fewer than k hits and no fallback left (Fallback off).
	KShort KStrategy = "short"
)

// WidenPolicy is "k that means k": native engines return k hits per segment
// per shard (size trims the excess, KNN #2572), and filtered searches can
// return fewer than k — always with nmslib's post-filter, and with
// efficient filtering when nested or restrictive (KNN #1043). When a
// search comes back short, the bridge asks the policy what to do next.
type WidenPolicy struct {
	// Factor multiplies k on each widening (default 4).
	Factor int
	// MaxK caps the widened k (default MaxK = 10,000).
	MaxK int
	// MaxAttempts caps the number of approximate queries (default 3).
	MaxAttempts int
	// NoExact disables the exact-search fallback.
	NoExact bool
}

func (p WidenPolicy) withDefaults() WidenPolicy {
	if p.Factor <= 1 {
		p.Factor = 4
	}
	if p.MaxK <= 0 || p.MaxK > MaxK {
		p.MaxK = MaxK
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	return p
}

// KAction is the next step.
type KAction int

const (
	KDone KAction = iota
	KWiden
	KRunExact
)

// KStep is the policy's decision after an attempt.
type KStep struct {
	Action   KAction
	NextK    int       // for KWiden
	Strategy KStrategy // for KDone
}

// Next decides after attempt number attempt (1-based) that asked for
// attemptK candidates and got `got` hits, when k were wanted.
// filterMatches is how many documents match the filter and have the field
// (from a _count), or −1 when unknown.
func (p WidenPolicy) Next(k, attempt, attemptK, got, filterMatches int) (KStep, error) {
	p = p.withDefaults()
	if k < 1 || attempt < 1 || attemptK < 1 || got < 0 {
		return KStep{}, fmt.Errorf("widen: bad state k=%d attempt=%d attemptK=%d got=%d", k, attempt, attemptK, got)
	}
	if got >= k {
		if attempt == 1 {
			return KStep{Action: KDone, Strategy: KDirect}, nil
		}
		return KStep{Action: KDone, Strategy: KWidened}, nil
	}
	if filterMatches >= 0 && got >= filterMatches {
		return KStep{Action: KDone, Strategy: KExhausted}, nil
	}
	if attempt < p.MaxAttempts && attemptK < p.MaxK {
		next := min(attemptK*p.Factor, p.MaxK)
		return KStep{Action: KWiden, NextK: next}, nil
	}
	if !p.NoExact {
		return KStep{Action: KRunExact}, nil
	}
	return KStep{Action: KDone, Strategy: KShort}, nil
}
