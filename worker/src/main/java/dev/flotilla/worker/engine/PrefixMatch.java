package dev.flotilla.worker.engine;

/**
 * What the prefix cache holds for a sequence's tokens.
 *
 * @param positions positions a sequence would adopt: whole blocks, at most all tokens but the last
 * @param sharedBlocks how many of those blocks running sequences hold now; adopting the others
 *     takes them out of {@link KvStats#freeBlocks()}
 */
public record PrefixMatch(int positions, int sharedBlocks) {}
