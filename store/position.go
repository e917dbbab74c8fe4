package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Generation identifies one file of the log (FORMAT.md §5): the header's
// sequence number and creation timestamp, and the file's inode.
type Generation struct {
	Seq     int64  `json:"seq"`
	Created int64  `json:"created"`
	Inode   uint64 `json:"inode"`
}

// Position is where a state stands in the log, written in the same
// transaction as the data it covers.
type Position struct {
	// Log is the path the state was replayed from.
	Log string `json:"log"`
	// Generation is the log file the offset refers to.
	Generation Generation `json:"generation"`
	// Offset is the byte offset just past the last record consumed. Records
	// of a transaction still open are not consumed.
	Offset int64 `json:"offset"`
	// Line is the number of lines before Offset, for error reports.
	Line int64 `json:"line"`
	// Tail holds the last bytes before Offset (the end of the last record
	// consumed, newline included), to verify the file on resume.
	Tail []byte `json:"tail"`

	// Records, Transactions and Corrupt count, since the state began, the
	// records consumed, the transactions applied (a record outside a
	// transaction counts as one) and the corrupt records skipped.
	Records      int64 `json:"records"`
	Transactions int64 `json:"transactions"`
	Corrupt      int64 `json:"corrupt"`
	// Applied is when the last transaction was committed to the database.
	Applied time.Time `json:"applied"`
}

// TailLen is the number of bytes before the offset a Position keeps.
const TailLen = 64

func readPosition(st *bolt.Bucket) (Position, error) {
	var p Position
	v := st.Get(keyPosition)
	if v == nil {
		return p, nil
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return p, fmt.Errorf("stored position: %w", err)
	}
	return p, nil
}
