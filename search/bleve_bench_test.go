package search

import (
	"context"
	"strings"

	"concord/storage"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
)

// bleveCandidate is the bleve v2 (scorch) contender: the same job as
// Index, newest first, no stop words or stemming (FTS5 has neither).
type bleveCandidate struct{ ix bleve.Index }

type bleveDoc struct {
	Text    string  `json:"text"`
	Channel string  `json:"ch"`
	Seq     float64 `json:"seq"`
	Order   float64 `json:"order"`
}

func init() {
	candidates["bleve"] = func(dir string) (candidate, error) {
		ix, err := bleve.Open(dir)
		if err == nil {
			return bleveCandidate{ix}, nil
		}
		m := bleve.NewIndexMapping()
		if err := m.AddCustomAnalyzer("chat", map[string]any{
			"type":          custom.Name,
			"tokenizer":     unicode.Name,
			"token_filters": []string{lowercase.Name},
		}); err != nil {
			return nil, err
		}
		doc := bleve.NewDocumentMapping()
		text := bleve.NewTextFieldMapping()
		text.Analyzer = "chat"
		text.Store = false
		text.IncludeTermVectors = false
		text.IncludeInAll = false
		text.DocValues = false
		doc.AddFieldMappingsAt("text", text)
		ch := bleve.NewKeywordFieldMapping()
		ch.Analyzer = keyword.Name
		ch.IncludeInAll = false
		doc.AddFieldMappingsAt("ch", ch)
		seq := bleve.NewNumericFieldMapping()
		seq.IncludeInAll = false
		doc.AddFieldMappingsAt("seq", seq)
		order := bleve.NewNumericFieldMapping()
		order.IncludeInAll = false
		order.Store = false
		order.DocValues = true
		doc.AddFieldMappingsAt("order", order)
		m.DefaultMapping = doc
		m.DefaultAnalyzer = "chat"
		m.IndexDynamic = false
		m.StoreDynamic = false
		m.DocValuesDynamic = false
		var _ mapping.IndexMapping = m
		// unsafe_batch: Batch returns before the segment is fsynced, like
		// Index's synchronous=NORMAL (the index is rebuildable).
		ix, err = bleve.NewUsing(dir, m, scorch.Name, scorch.Name, map[string]any{"unsafe_batch": true})
		if err != nil {
			return nil, err
		}
		return bleveCandidate{ix}, nil
	}
}

func (c bleveCandidate) add(msgs []storage.Message) error {
	b := c.ix.NewBatch()
	for i, m := range msgs {
		// same commit order key as Index's rowid (slot = position in batch)
		order := float64(m.Index<<slotBits | uint64(i))
		if err := b.Index(m.ID, bleveDoc{Text: m.Text, Channel: m.Channel, Seq: float64(m.Seq), Order: order}); err != nil {
			return err
		}
	}
	return c.ix.Batch(b)
}

func (c bleveCandidate) search(ctx context.Context, q string, chans []string, limit int) (int, error) {
	var must []query.Query
	for _, w := range strings.Fields(strings.ToLower(q)) {
		if p, ok := strings.CutSuffix(w, "*"); ok {
			pq := bleve.NewPrefixQuery(p)
			pq.SetField("text")
			must = append(must, pq)
			continue
		}
		mq := bleve.NewMatchQuery(w)
		mq.SetField("text")
		must = append(must, mq)
	}
	var should []query.Query
	for _, ch := range chans {
		tq := bleve.NewTermQuery(ch)
		tq.SetField("ch")
		should = append(should, tq)
	}
	must = append(must, bleve.NewDisjunctionQuery(should...))
	req := bleve.NewSearchRequestOptions(bleve.NewConjunctionQuery(must...), limit, 0, false)
	req.SortBy([]string{"-order"})
	req.Fields = []string{"ch", "seq"}
	res, err := c.ix.SearchInContext(ctx, req)
	if err != nil {
		return 0, err
	}
	return len(res.Hits), nil
}

func (c bleveCandidate) close() error { return c.ix.Close() }
