package dev.flotilla.operator.autoscaler;

/**
 * A model's demand summed over the gateways that report it.
 *
 * @param reporting whether any gateway reported the model recently; without reports the autoscaler
 *     cannot tell "no demand" from "no data" (e.g. right after a restart)
 * @param stableConcurrency in-flight + queued, averaged over the stable window
 * @param panicConcurrency in-flight + queued, averaged over the panic window
 * @param latestConcurrency in-flight + queued in the latest reports
 * @param held requests held for a model with no ready worker, in the latest reports
 */
public record DemandSnapshot(
    boolean reporting,
    double stableConcurrency,
    double panicConcurrency,
    double latestConcurrency,
    int held) {
  public static final DemandSnapshot NONE = new DemandSnapshot(false, 0, 0, 0, 0);

  public static DemandSnapshot of(double stable, double panic, double latest, int held) {
    return new DemandSnapshot(true, stable, panic, latest, held);
  }

  /** Any demand at all right now. */
  public boolean active() {
    return held > 0 || latestConcurrency > 0 || panicConcurrency > 0;
  }
}
