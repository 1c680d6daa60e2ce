package search

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"concord/storage"
)

// corpus makes realistic chat messages from a fixed seed: a vocabulary of
// common English chat words followed by made-up words, drawn with a Zipf
// distribution (a few words are everywhere, most are rare), 5-30 words per
// message, spread over channels of unequal traffic.
type corpus struct {
	rng      *rand.Rand
	zipf     *rand.Zipf
	vocab    []string
	channels []string
	chanSeq  map[string]uint64
	index    uint64 // Raft index of the current entry
	inEntry  int    // messages left in the current entry
	n        int
}

var commonWords = strings.Fields(`the to i you a and it is that of for in on we this
	be have can do just not with so ok what but will at my if are was me get
	about all think like now there yes no how one need up out know should when
	thanks good deploy build test merge review fix bug release meeting tomorrow
	today lunch coffee server client api database cache latency error log
	branch commit ticket sprint standup demo design docs customer team weekend
	friday monday issue crash memory disk network config update patch version`)

func newCorpus(seed uint64, vocabSize int, channels int) *corpus {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := &corpus{rng: rng, chanSeq: map[string]uint64{}}
	c.vocab = append(c.vocab, commonWords...)
	syll := strings.Fields("ka lo mi ne ra tu sel vor pin dak gre fa zu po li an tem or ble qui sta ro ven mar")
	seen := map[string]bool{}
	for _, w := range c.vocab {
		seen[w] = true
	}
	for len(c.vocab) < vocabSize {
		var b strings.Builder
		for range 2 + rng.IntN(3) {
			b.WriteString(syll[rng.IntN(len(syll))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			c.vocab = append(c.vocab, w)
		}
	}
	c.zipf = rand.NewZipf(rng, 1.1, 2, uint64(len(c.vocab)-1))
	for i := range channels {
		c.channels = append(c.channels, fmt.Sprintf("chan-%02d", i))
	}
	return c
}

// next returns the next message; messages come in Raft entries of 1-8.
func (c *corpus) next() storage.Message {
	if c.inEntry == 0 {
		c.index++
		c.inEntry = 1 + c.rng.IntN(8)
	}
	c.inEntry--
	c.n++
	// channel traffic is skewed too: channel i gets weight 1/(i+1)
	ch := c.channels[0]
	for i := len(c.channels) - 1; i >= 0; i-- {
		if c.rng.IntN(i+1) == 0 {
			ch = c.channels[i]
			break
		}
	}
	c.chanSeq[ch]++
	words := make([]string, 5+c.rng.IntN(26))
	for i := range words {
		words[i] = c.vocab[c.zipf.Uint64()]
	}
	return storage.Message{
		Envelope: storage.Envelope{
			ID:      fmt.Sprintf("m%08d", c.n),
			Author:  "12D3KooWauthor",
			Channel: ch,
			Text:    strings.Join(words, " "),
			SentAt:  time.Unix(1_700_000_000+int64(c.n), 0),
		},
		Seq:         c.chanSeq[ch],
		CommittedAt: time.Unix(1_700_000_000+int64(c.n), 0),
		Index:       c.index,
	}
}

func (c *corpus) batch(n int) []storage.Message {
	out := make([]storage.Message, n)
	for i := range out {
		out[i] = c.next()
	}
	return out
}
