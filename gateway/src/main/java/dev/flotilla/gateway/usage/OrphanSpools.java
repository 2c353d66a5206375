package dev.flotilla.gateway.usage;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * Sends what spools nobody holds still contain: those of gateways that stopped for good (a replica
 * count lowered, a rollout whose new pods took other subdirectories). Every so often it claims each
 * free subdirectory of the volume other than its own, ships it through a ledger of its own to Kafka
 * and lets it go again.
 */
public final class OrphanSpools implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(OrphanSpools.class);

  private final SpoolDirectory volume;
  private final Path own;
  private final String owner;
  private final long segmentBytes;
  private final Function<UsageSpool, UsageLedger> ledgers;
  private final Duration drainTimeout;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "flotilla-usage-orphans");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param ledgers makes an unstarted ledger that sends one spool to Kafka
   * @param drainTimeout how long one orphan may take before it is let go until the next round
   */
  public OrphanSpools(
      SpoolDirectory volume,
      Path own,
      String owner,
      long segmentBytes,
      Function<UsageSpool, UsageLedger> ledgers,
      Duration drainTimeout) {
    this.volume = volume;
    this.own = own;
    this.owner = owner;
    this.segmentBytes = segmentBytes;
    this.ledgers = ledgers;
    this.drainTimeout = drainTimeout;
  }

  /** Looks for orphans now and then every {@code interval}. */
  public OrphanSpools start(Duration interval) {
    timer.scheduleWithFixedDelay(
        () -> {
          try {
            drainOnce();
          } catch (IOException | RuntimeException e) {
            LOG.warnf("usage spool: sending orphaned spools failed: %s", e);
          }
        },
        0,
        interval.toMillis(),
        TimeUnit.MILLISECONDS);
    return this;
  }

  /** Ships every free orphan once; returns the events Kafka took from them. */
  public long drainOnce() throws IOException {
    long sent = 0;
    for (SpoolDirectory.Claim claim : volume.claimOrphans(own, owner)) {
      try (claim) {
        UsageSpool spool = UsageSpool.open(claim.dir(), segmentBytes);
        if (spool.depth() == 0) {
          spool.close();
          continue;
        }
        LOG.infof(
            "usage spool: sending %d events left in %s by a gateway that is gone",
            spool.depth(), claim.dir());
        UsageLedger ledger = ledgers.apply(spool).start();
        ledger.close(drainTimeout);
        sent += ledger.sent();
      }
    }
    return sent;
  }

  @Override
  public void close() {
    timer.shutdownNow();
    try {
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
