package node

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fileBenchBytes is the size of the file BenchmarkFileTransfer moves: over
// the auto-fetch size, so only the timed Fetch moves it.
const fileBenchBytes = 64 << 20

// BenchmarkFileTransfer measures a member fetching a 64 MB attachment from
// the member that attached it (/concord/blob/1.0.0 over libp2p on
// loopback: Noise, yamux, hash check, written with fsync), and in the same
// run the baseline: the same file copied over a plain loopback TCP
// connection into a file that is then fsynced, as scp would without its
// encryption.
func BenchmarkFileTransfer(b *testing.B) {
	c := newTestCluster(b, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := b.TempDir()
	var concord, plain time.Duration
	for i := range b.N {
		src := filepath.Join(dir, fmt.Sprintf("file%d.bin", i))
		writeRandomFile(b, src, fileBenchBytes)
		id, err := c.nodes[0].Attach(ctx, "general", src, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.nodes[1].message(ctx, id); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := c.nodes[1].Fetch(ctx, id, filepath.Join(dir, fmt.Sprintf("fetched%d.bin", i)), nil); err != nil {
			b.Fatal(err)
		}
		concord += time.Since(start)
		start = time.Now()
		tcpCopy(b, src, filepath.Join(dir, fmt.Sprintf("copied%d.bin", i)))
		plain += time.Since(start)
	}
	mbps := func(d time.Duration) float64 { return float64(b.N) * fileBenchBytes / (1 << 20) / d.Seconds() }
	b.ReportMetric(mbps(concord), "concord_MB/s")
	b.ReportMetric(mbps(plain), "tcp_MB/s")
	fmt.Printf("\nfile transfer, %d MB on loopback: concord fetch %.1f MB/s, plain TCP copy + fsync %.1f MB/s, ratio %.2f (%d runs)\n",
		fileBenchBytes>>20, mbps(concord), mbps(plain), mbps(concord)/mbps(plain), b.N)
}

func writeRandomFile(b *testing.B, path string, size int) {
	data := make([]byte, size)
	_, _ = rand.Read(data)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
}

// tcpCopy sends src over a loopback TCP connection into dst and fsyncs it.
func tcpCopy(b *testing.B, src, dst string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			sent <- err
			return
		}
		defer conn.Close()
		f, err := os.Open(src)
		if err != nil {
			sent <- err
			return
		}
		defer f.Close()
		_, err = io.Copy(conn, f)
		sent <- err
	}()
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, conn); err != nil {
		b.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
}
