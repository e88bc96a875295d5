-- wrk's summary as one JSON line for scripts/compare-generators: requests/s and the
-- latency percentiles wrk measured (microseconds in wrk, milliseconds here).
done = function(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local errors = summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.status + summary.errors.timeout
    io.write(string.format(
        '{"rps": %.1f, "p50": %.3f, "p99": %.3f, "p999": %.3f, "lag99": null, "errors": %d}\n',
        summary.requests / seconds, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, errors))
end
