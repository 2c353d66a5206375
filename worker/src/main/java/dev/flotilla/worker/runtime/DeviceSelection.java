package dev.flotilla.worker.runtime;

import dev.flotilla.worker.config.WorkerSettings;
import dev.flotilla.worker.engine.DeviceUnavailableException;
import dev.flotilla.worker.engine.Devices;

/**
 * Which device the worker loads its model on, from {@code FLOTILLA_DEVICE} and the GPUs the engine
 * sees: {@code auto} is the first GPU when there is one, else the CPU; {@code cpu} is the CPU; a
 * named GPU must exist. A worker sent to a GPU node that finds no GPU fails with the engine's
 * reason instead of serving at CPU speed while the reserved GPU idles.
 */
public final class DeviceSelection {
  private DeviceSelection() {}

  /**
   * @param setting {@code auto}, {@code cpu} or {@code cuda:N} (checked by {@link WorkerSettings})
   * @param cudaCount CUDA devices the engine sees
   * @param unavailableReason why the engine sees none (when {@code cudaCount} is 0)
   * @return {@code cpu} or {@code cuda:N}
   * @throws DeviceUnavailableException when {@code setting} names a GPU that is not there
   */
  public static String resolve(String setting, int cudaCount, String unavailableReason) {
    if (WorkerSettings.AUTO_DEVICE.equals(setting)) {
      return cudaCount > 0 ? Devices.cuda(0) : Devices.CPU;
    }
    if (Devices.CPU.equals(setting)) {
      return Devices.CPU;
    }
    int ordinal = Integer.parseInt(setting.substring("cuda:".length()));
    if (ordinal < cudaCount) {
      return setting;
    }
    String seen =
        cudaCount == 0
            ? "the engine sees no GPU: " + unavailableReason
            : "the engine sees "
                + cudaCount
                + (cudaCount == 1
                    ? " GPU (cuda:0)"
                    : " GPUs (cuda:0..cuda:" + (cudaCount - 1) + ")");
    throw new DeviceUnavailableException(
        WorkerSettings.DEVICE
            + " is "
            + setting
            + " but "
            + seen
            + ". The worker does not fall back to the CPU.");
  }
}
