package exporter

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// A scrape's body is the snapshot's queue metrics, which only change once
// per collection, followed by the metrics gathered at the scrape (Go
// runtime, process, ingest, the collector's own): a few dozen series
// against a thousand. So the snapshot part is encoded once per format and
// collection, and each scrape encodes only its own part. The exposition
// formats allow this: metric families may come in any order, and only
// OpenMetrics has a trailer ("# EOF"), which the scrape's part writes.
//
// With gzip, the snapshot part is kept deflated and ended by a sync flush,
// which leaves a deflate stream open on a byte boundary; the scrape's part
// is deflated by a fresh compressor and closed. The two make one deflate
// stream (RFC 1951: blocks need not refer back to earlier ones), sent as
// one gzip member whose CRC-32 runs over both parts.

// encodedPart is a run of metric families encoded in one format.
type encodedPart struct {
	plain    []byte
	deflated []byte // plain, deflated and sync-flushed, not final
	crc      uint32 // CRC-32 (IEEE) of plain
}

// partCache holds a snapshot's encodings, made on first use.
type partCache struct {
	mu    sync.Mutex
	parts map[expfmt.Format]*encodedPart
}

// part returns families encoded in format, encoding them the first time.
func (c *partCache) part(families []*dto.MetricFamily, format expfmt.Format) (*encodedPart, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.parts[format]; ok {
		return p, nil
	}
	var plain bytes.Buffer
	if err := encodeFamilies(&plain, format, families, false); err != nil {
		return nil, err
	}
	p := &encodedPart{plain: plain.Bytes(), crc: crc32.ChecksumIEEE(plain.Bytes())}
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(p.plain); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	p.deflated = deflated.Bytes()
	if c.parts == nil {
		c.parts = make(map[expfmt.Format]*encodedPart)
	}
	c.parts[format] = p
	return p, nil
}

// encodeFamilies writes families to w in format; with last, it ends the
// body as the format requires.
func encodeFamilies(w io.Writer, format expfmt.Format, families []*dto.MetricFamily, last bool) error {
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok && last {
		return closer.Close()
	}
	return nil
}

// writeGzip writes one gzip member holding head's text then tail, which
// it deflates with fw.
func writeGzip(w io.Writer, fw *flate.Writer, head *encodedPart, tail []byte) error {
	var buf bytes.Buffer
	buf.Grow(len(tail)/2 + 64)
	fw.Reset(&buf)
	if _, err := fw.Write(tail); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc32.Update(head.crc, crc32.IEEETable, tail))
	binary.LittleEndian.PutUint32(trailer[4:], uint32(len(head.plain)+len(tail)))
	// The member header: deflate, no flags, no time, unknown OS.
	header := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	for _, b := range [][]byte{header, head.deflated, buf.Bytes(), trailer[:]} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
