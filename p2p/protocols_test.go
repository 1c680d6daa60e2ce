package p2p

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// docProtocolID matches a stream protocol ID in docs/protocol.md: Concord's
// own (/concord/...) and Raft's (/raft/...).
var docProtocolID = regexp.MustCompile(`/(?:concord|raft)/[A-Za-z0-9._/-]*[A-Za-z0-9]`)

// docs/protocol.md documents exactly the protocols a member speaks: its
// table of protocol IDs lists every ID in Protocols and no other, and every
// protocol ID named anywhere in it is in Protocols.
func TestProtocolsMatchDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	checkProtocolsDocumented(t, Protocols(), string(doc))
}

// docTableRow matches a row of the table of protocol IDs: its first cell
// is one ID, in backquotes.
var docTableRow = regexp.MustCompile("(?m)^\\| `(/[^`]*)` \\|")

func checkProtocolsDocumented(t testing.TB, ids []protocol.ID, doc string) {
	t.Helper()
	table := map[protocol.ID]bool{}
	for _, m := range docTableRow.FindAllStringSubmatch(doc, -1) {
		table[protocol.ID(m[1])] = true
	}
	for _, id := range ids {
		if !table[id] {
			t.Errorf("%s is in p2p.Protocols but not in docs/protocol.md's table of protocol IDs", id)
		}
	}
	for id := range table {
		if !slices.Contains(ids, id) {
			t.Errorf("docs/protocol.md's table lists %s, which is not in p2p.Protocols", id)
		}
	}
	named := map[protocol.ID]bool{}
	for _, s := range docProtocolID.FindAllString(doc, -1) {
		named[protocol.ID(s)] = true
	}
	for id := range named {
		if !slices.Contains(ids, id) {
			t.Errorf("docs/protocol.md names %s, which is not in p2p.Protocols", id)
		}
	}
}

// Protocols names each ID once, and every protocol ID constant this
// package declares is in it.
func TestProtocolsComplete(t *testing.T) {
	ids := Protocols()
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			t.Errorf("%s is listed twice", id)
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if sel, ok := vs.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "ID" {
					continue
				}
				for i, name := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Errorf("%s is not a string literal", name)
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					declared++
					if !slices.Contains(ids, protocol.ID(v)) {
						t.Errorf("%s (%s) is not in Protocols", name, v)
					}
				}
			}
		}
	}
	if declared != len(ids) {
		t.Errorf("this package declares %d protocol IDs, Protocols lists %d", declared, len(ids))
	}
}
