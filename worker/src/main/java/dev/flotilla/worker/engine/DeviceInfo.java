package dev.flotilla.worker.engine;

/**
 * A CUDA device as the engine sees it.
 *
 * @param device {@code cuda:N}
 * @param name e.g. {@code NVIDIA H100 80GB HBM3}
 * @param totalBytes device memory
 * @param freeBytes free now, as the driver reports it (all processes)
 * @param engineBytes held by this engine now: weights, KV cache, adapters, scratch
 * @param computeCapability e.g. {@code 9.0}
 * @param multiprocessors streaming multiprocessors
 */
public record DeviceInfo(
    String device,
    String name,
    long totalBytes,
    long freeBytes,
    long engineBytes,
    String computeCapability,
    int multiprocessors) {}
