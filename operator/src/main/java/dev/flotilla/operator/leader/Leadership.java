package dev.flotilla.operator.leader;

import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.jboss.logging.Logger;

/**
 * Whether this operator replica leads. Only the leader reconciles, so only the leader may take
 * demand: a gateway whose demand stream lands on a standby would hold requests for a cold model
 * that nobody scales up. The autoscaler asks {@link #leading()} before it accepts a report.
 *
 * <p>Without leader election (one replica, or tests) the replica leads from the start.
 */
public final class Leadership {
  private static final Logger LOG = Logger.getLogger(Leadership.class);

  private volatile boolean leading;
  private final AtomicReference<String> leader = new AtomicReference<>();

  private Leadership(boolean leading) {
    this.leading = leading;
  }

  /** A replica that leads from the start: no election runs. */
  public static Leadership alone() {
    return new Leadership(true);
  }

  /** A replica that leads only once the election says so; hook {@link #callbacks} into it. */
  public static Leadership elected() {
    return new Leadership(false);
  }

  public boolean leading() {
    return leading;
  }

  /** The identity of the current leader, once the election has named one. */
  public Optional<String> leader() {
    return Optional.ofNullable(leader.get());
  }

  /**
   * Callbacks for the Lease-based election. {@code onStartLeading} runs after this replica is
   * marked leader (e.g. to label its pod so the leader-only Service routes demand to it).
   */
  public LeaderCallbacks callbacks(Runnable onStartLeading) {
    return new LeaderCallbacks(
        () -> {
          leading = true;
          onStartLeading.run();
        },
        () -> leading = false,
        identity -> {
          leader.set(identity);
          LOG.infof("operator leader is now %s", identity);
        });
  }
}
