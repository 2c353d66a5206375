package dev.flotilla.worker.engine;

/** Occupancy of a context's KV block pool. */
public record KvStats(int blockSize, int totalBlocks, int freeBlocks, long bytesPerBlock) {}
