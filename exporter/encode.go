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
// against a thousand. So the snapshot part (the head) is encoded once per
// format and collection, and the gathered part (the tail) once per format
// and gathering, which concurrent scrapes share. The exposition
// formats allow this: metric families may come in any order, and only
// OpenMetrics has a trailer ("# EOF"), which the scrape's part writes.
//
// With gzip, the snapshot part is kept deflated and ended by a sync flush,
// which leaves a deflate stream open on a byte boundary; the tail is
// deflated by a fresh compressor and closed. The two make one deflate
// stream (RFC 1951: blocks need not refer back to earlier ones), sent as
// one gzip member whose CRC-32 runs over both parts.

// encodedPart is a run of metric families encoded in one format.
type encodedPart struct {
	plain []byte
	// deflated is plain deflated: ended by a sync flush for a head, by a
	// final block for a tail.
	deflated []byte
	crc      uint32 // CRC-32 (IEEE) of plain
}

// encodePart encodes families in format, compressing them with fw. A tail
// (last) ends the body as the format requires.
func encodePart(families []*dto.MetricFamily, format expfmt.Format, last bool, fw *flate.Writer) (*encodedPart, error) {
	var plain, deflated bytes.Buffer
	if err := encodeFamilies(&plain, format, families, last); err != nil {
		return nil, err
	}
	fw.Reset(&deflated)
	if _, err := fw.Write(plain.Bytes()); err != nil {
		return nil, err
	}
	end := fw.Flush
	if last {
		end = fw.Close
	}
	if err := end(); err != nil {
		return nil, err
	}
	return &encodedPart{plain: plain.Bytes(), deflated: deflated.Bytes(), crc: crc32.ChecksumIEEE(plain.Bytes())}, nil
}

// partCache holds the encodings of one list of families, one per format,
// each made on first use.
type partCache struct {
	mu    sync.Mutex
	parts map[expfmt.Format]*encodedPart
}

// part returns the encoding in format, calling encode the first time.
func (c *partCache) part(format expfmt.Format, encode func() (*encodedPart, error)) (*encodedPart, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.parts[format]; ok {
		return p, nil
	}
	p, err := encode()
	if err != nil {
		return nil, err
	}
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

// writeGzip writes one gzip member holding head's text then tail's.
func writeGzip(w io.Writer, head, tail *encodedPart) error {
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc32.Update(head.crc, crc32.IEEETable, tail.plain))
	binary.LittleEndian.PutUint32(trailer[4:], uint32(len(head.plain)+len(tail.plain)))
	// The member header: deflate, no flags, no time, unknown OS.
	header := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	for _, b := range [][]byte{header, head.deflated, tail.deflated, trailer[:]} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
