package dev.flotilla.worker.engine;

/**
 * The device asked for does not exist: no NVIDIA driver, no GPU with that ordinal, or an engine
 * built without CUDA. The message names the device and the reason.
 */
public class DeviceUnavailableException extends EngineException {
  public DeviceUnavailableException(String message) {
    super(EngineStatus.DEVICE_UNAVAILABLE, message);
  }
}
