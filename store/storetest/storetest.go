// Package storetest provides what tests of the packages that read a qindex
// database need to build files a qindex of another version would write.
package storetest

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

// MakeOlder turns the qindex database at path, which must be closed, into
// what a qindex of schema version v wrote, as far as a newer one may read
// it: the same ads, position, job count and history, and no indexes (every
// bucket of its active state but ads/ is dropped, so that a read of them
// shows). It follows the layout docs/STORE.md describes.
func MakeOlder(tb testing.TB, path, v string) {
	tb.Helper()
	b, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		state := tx.Bucket(meta.Get([]byte("active")))
		var drop [][]byte
		state.ForEachBucket(func(k []byte) error {
			if string(k) != "ads" {
				drop = append(drop, k)
			}
			return nil
		})
		for _, k := range drop {
			if err := state.DeleteBucket(k); err != nil {
				return err
			}
		}
		return meta.Put([]byte("schema"), []byte(v))
	})
	if err != nil {
		tb.Fatal(err)
	}
}
