package dev.flotilla.gateway.service;

import dev.flotilla.api.v1.Final;
import dev.flotilla.gateway.metrics.GatewayMetrics;
import dev.flotilla.gateway.time.Ticker;
import dev.flotilla.gateway.usage.UsageEvent;
import dev.flotilla.gateway.usage.UsageSpool;
import io.grpc.StatusRuntimeException;
import java.time.Clock;
import org.jboss.logging.Logger;

/**
 * The pipeline's last stage: every request ends here, once. A request with a tenant is billed (one
 * usage event, recorded durably before its client hears the end) and counted; then its client gets
 * the answer. One per gateway.
 */
final class UsageMeter {
  private static final Logger LOG = Logger.getLogger(UsageMeter.class);

  private final UsageRecorder usage;
  private final GatewayMetrics metrics;
  private final Ticker ticker;
  private final Clock clock;
  private final String gatewayId;

  UsageMeter(
      UsageRecorder usage, GatewayMetrics metrics, Ticker ticker, Clock clock, String gatewayId) {
    this.usage = usage;
    this.metrics = metrics;
    this.ticker = ticker;
    this.clock = clock;
    this.gatewayId = gatewayId;
  }

  /** No tenant to bill: counted as a rejection and answered at once. */
  void unauthenticated(StatusRuntimeException error, ResponseSink sink) {
    metrics.rejected("unauthenticated");
    sink.fail(error);
  }

  /** Refused before admission: counted as a rejection for {@code reason}, billed as failed. */
  void refused(RequestFacts facts, String reason, StatusRuntimeException error, ResponseSink sink) {
    metrics.rejected(reason);
    finish(
        facts,
        RequestOutcome.failed(error)
            .measured(0, 0, 0, -1, (ticker.nanos() - facts.arrived()) / 1_000_000),
        sink);
  }

  /** The scheduler refused an admitted request, which its run then finishes. */
  void rejected(String reason) {
    metrics.rejected(reason);
  }

  /** Bills and counts a measured outcome, then answers the client once the bill is on disk. */
  void finish(RequestFacts facts, RequestOutcome outcome, ResponseSink sink) {
    String tenant = facts.tenant().name();
    String model = facts.modelKey();
    UsageEvent event =
        UsageEvent.of(
            facts.requestId(),
            tenant,
            model,
            facts.adapterName(),
            outcome.promptTokens(),
            outcome.completionTokens(),
            outcome.queueMs(),
            outcome.timeToFirstTokenMs(),
            outcome.totalMs(),
            outcome.status(),
            outcome.reason().name(),
            clock.millis(),
            gatewayId);
    metrics.request(tenant, model.isEmpty() ? "none" : model, outcome.status());
    metrics.tokens(tenant, outcome.promptTokens(), outcome.completionTokens());
    Final answer = outcome.answer(facts.requestId());
    // The recorder answers on its own thread, so no transport thread waits for the disk. It needs
    // no lock on the sink: a request reaches the meter once, and nothing else writes to the sink
    // after that.
    usage.record(
        event,
        failure -> {
          if (failure instanceof UsageSpool.SpoolFullException full) {
            // One line per lost event, without a stack: the spool logged why, once.
            LOG.errorf(
                "usage event %s (tenant %s) not recorded: %s",
                event.eventId(), tenant, full.getMessage());
          } else if (failure != null) {
            // The client still gets its answer; the gap shows in logs and the spool-depth metric.
            LOG.errorf(
                failure,
                "usage event %s (tenant %s) could not be spooled",
                event.eventId(),
                tenant);
          }
          if (outcome.error() != null) {
            sink.fail(outcome.error());
          } else if (answer != null) {
            sink.complete(answer);
          }
        });
  }
}
