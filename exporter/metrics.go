package exporter

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/qindex/qindex/index"
)

// refreshed ends the HELP of every queue metric: the numbers come from the
// latest collection, not from the moment of the scrape.
const refreshed = " As of the latest collection, which the background collector refreshes every --collect-interval."

func queueDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("htcondor_queue_"+name, help+refreshed, labels, nil)
}

var (
	descJobs = queueDesc("jobs",
		"Jobs in the queue by JobStatus (each job's own, else its cluster's).", "status")
	descOwnerJobs = queueDesc("owner_jobs",
		"Jobs in the queue by Owner and JobStatus, for the owners with the most jobs (--metrics.max-owners); the rest are summed under owner=\"_other\", jobs without a string Owner are under owner=\"_undefined\".",
		"owner", "status")
	descCPUs = queueDesc("requested_cpus",
		"Sum of RequestCpus over the jobs in the queue, by JobStatus.", "status")
	descMemory = queueDesc("requested_memory_bytes",
		"Sum of RequestMemory (MiB in the job ad) over the jobs in the queue, in bytes, by JobStatus.", "status")
	descDisk = queueDesc("requested_disk_bytes",
		"Sum of RequestDisk (KiB in the job ad) over the jobs in the queue, in bytes, by JobStatus.", "status")
	descGPUs = queueDesc("requested_gpus",
		"Sum of RequestGPUs over the jobs in the queue, by JobStatus.", "status")
	descHeld = queueDesc("held_jobs",
		"Held jobs by HoldReasonCode (\"undefined\" when a held job has none).", "reason_code")
	descOldestIdle = queueDesc("oldest_idle_job_submit_timestamp_seconds",
		"Submit time (QDate, Unix seconds) of the idle job submitted first; absent when no job is idle.")
	descIdleWait = queueDesc("idle_job_wait_seconds",
		"How long idle jobs have been idle: the collection time minus EnteredCurrentStatus (QDate when absent).")
	descRunTime = queueDesc("running_job_run_seconds",
		"How long running jobs have been running in their current run: the collection time minus JobCurrentStartDate (ShadowBday when absent).")
	descUniverses = queueDesc("universe_jobs",
		"Jobs in the queue by JobUniverse (its name, or its number when HTCondor defines none).", "universe")
	descClusters = queueDesc("clusters",
		"Clusters with at least one job in the queue.")

	descLeft = prometheus.NewDesc("htcondor_history_jobs_total",
		"Jobs that left the queue since the database was created, by how: completed and removed (their last JobStatus), other (any other), unobserved (they left while the log was not followed)."+refreshed, []string{"how"}, nil)
	descOwnerLeft = prometheus.NewDesc("htcondor_history_owner_jobs_total",
		"Jobs that left the queue since the database was created, by Owner and how, for the owners with the most (--metrics.max-owners); the rest are summed under owner=\"_other\", which falls when an owner joins the named ones."+refreshed, []string{"owner", "how"}, nil)
	descWallTime = prometheus.NewDesc("htcondor_history_completed_job_wall_seconds",
		"RemoteWallClockTime of the jobs that completed and left the queue since the database was created."+refreshed, nil, nil)
	descQueueWait = prometheus.NewDesc("htcondor_history_completed_job_queue_wait_seconds",
		"JobStartDate minus QDate of the jobs that completed and left the queue since the database was created."+refreshed, nil, nil)

	queueDescs = []*prometheus.Desc{descJobs, descOwnerJobs, descCPUs, descMemory, descDisk, descGPUs,
		descHeld, descOldestIdle, descIdleWait, descRunTime, descUniverses, descClusters,
		descLeft, descOwnerLeft, descWallTime, descQueueWait}
)

var (
	descDuration = prometheus.NewDesc("qindex_collector_last_duration_seconds",
		"How long the latest queue metrics collection took, successful or not.", nil, nil)
	descLastSuccess = prometheus.NewDesc("qindex_collector_last_success_timestamp_seconds",
		"When the latest successful queue metrics collection ended (Unix seconds): the queue metrics are as of then.", nil, nil)
	descLastOK = prometheus.NewDesc("qindex_collector_last_collection_success",
		"1 if the latest queue metrics collection succeeded, 0 if it failed and the previous snapshot is still served.", nil, nil)
	descCollections = prometheus.NewDesc("qindex_collector_collections_total",
		"Queue metrics collections run, successful or not.", nil, nil)
	descFailures = prometheus.NewDesc("qindex_collector_failures_total",
		"Queue metrics collections that failed; each left the previous snapshot in place.", nil, nil)

	selfDescs = []*prometheus.Desc{descDuration, descLastSuccess, descLastOK, descCollections, descFailures}
)

// queueFamilies builds the metric families of one collection, once: they
// are shared by the scrapes that serve it. They go through a registry of
// their own, which sorts and checks them as it would at a scrape.
func queueFamilies(st *queueStats) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(constCollector{descs: queueDescs, metrics: queueMetrics(st)}); err != nil {
		return nil, err
	}
	families, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("build the queue metrics: %w", err)
	}
	return families, nil
}

// constCollector sends fixed metrics.
type constCollector struct {
	descs   []*prometheus.Desc
	metrics []prometheus.Metric
}

func (c constCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- m
	}
}

// queueMetrics returns the metrics of one collection.
func queueMetrics(st *queueStats) []prometheus.Metric {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
		return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ms := make([]prometheus.Metric, 0, 5*nStatus+len(st.owners)*nStatus+len(st.held)+len(st.universes)+4)
	// byStatus emits one series per status, every defined one even when 0;
	// jobs with another JobStatus only when there are some.
	byStatus := func(d *prometheus.Desc, v *byStatus, labels ...string) {
		for slot := 1; slot < nStatus; slot++ {
			ms = append(ms, gauge(d, v[slot], append(labels, index.StatusNames[slot])...))
		}
		if v[0] != 0 {
			ms = append(ms, gauge(d, v[0], append(labels, index.StatusName(0))...))
		}
	}
	byStatus(descJobs, &st.jobs)
	for i := range st.owners {
		byStatus(descOwnerJobs, &st.owners[i].jobs, st.owners[i].name)
	}
	byStatus(descCPUs, &st.cpus)
	byStatus(descMemory, &st.memory)
	byStatus(descDisk, &st.disk)
	byStatus(descGPUs, &st.gpus)
	for _, code := range slices.Sorted(maps.Keys(st.held)) {
		ms = append(ms, gauge(descHeld, st.held[code], code))
	}
	for _, u := range slices.Sorted(maps.Keys(st.universes)) {
		ms = append(ms, gauge(descUniverses, st.universes[u], u))
	}
	if !math.IsNaN(st.oldestIdle) {
		ms = append(ms, gauge(descOldestIdle, st.oldestIdle))
	}
	for _, h := range []struct {
		d *prometheus.Desc
		h *histogram
	}{{descIdleWait, &st.idleWait}, {descRunTime, &st.runningSince}, {descWallTime, &st.wallTime}, {descQueueWait, &st.queueWait}} {
		ms = append(ms, prometheus.MustNewConstHistogram(h.d, h.h.count, h.h.sum, h.h.cumulative()))
	}
	ms = append(ms, gauge(descClusters, st.clusters))
	counter := func(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
		return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, how := range leftHows {
		ms = append(ms, counter(descLeft, st.left[how], how))
	}
	for _, o := range st.ownersLeft {
		for _, how := range leftHows {
			if v := o.byHow[how]; v > 0 {
				ms = append(ms, counter(descOwnerLeft, v, o.name, how))
			}
		}
	}
	return ms
}
