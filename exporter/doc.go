// Package exporter turns the stored queue into Prometheus metrics, in the
// way of metricsd: a background collector streams over the database on a
// timer, one job at a time in one read transaction, and publishes a
// complete snapshot of the sums; a scrape serves the latest snapshot and
// never touches the database.
package exporter
