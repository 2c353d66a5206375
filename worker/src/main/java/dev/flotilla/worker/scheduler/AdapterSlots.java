package dev.flotilla.worker.scheduler;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The fixed number of resident adapter slots, in least-recently-used order. Engine thread only. A
 * slot is LOADING (files being read off the engine thread) or RESIDENT; a resident slot with no
 * running sequence may be evicted.
 */
final class AdapterSlots {
  enum State {
    LOADING,
    RESIDENT
  }

  static final class Slot {
    final String name;
    final long loadStartNanos;
    State state = State.LOADING;
    LoadedAdapter adapter;
    long blocks; // KV blocks of budget the adapter's weights stand for
    int running; // running sequences using it
    boolean unloadWhenIdle;
    boolean closing; // admits no new sequences: it is being emptied for a waiting adapter
    final List<CompletableFuture<LoadedAdapter>> waiters = new ArrayList<>();

    Slot(String name, long loadStartNanos) {
      this.name = name;
      this.loadStartNanos = loadStartNanos;
    }

    boolean evictable() {
      return state == State.RESIDENT && running == 0;
    }
  }

  private final int capacity;
  private final LinkedHashMap<String, Slot> slots =
      new LinkedHashMap<>(16, 0.75f, true); // access order = LRU

  AdapterSlots(int capacity) {
    this.capacity = capacity;
  }

  int capacity() {
    return capacity;
  }

  boolean full() {
    return slots.size() >= capacity;
  }

  /** The slot without touching its recency. */
  Optional<Slot> peek(String name) {
    for (Map.Entry<String, Slot> e : slots.entrySet()) {
      if (e.getKey().equals(name)) {
        return Optional.of(e.getValue());
      }
    }
    return Optional.empty();
  }

  /** The slot, marked as just used. */
  Slot use(String name) {
    return slots.get(name);
  }

  Slot startLoading(String name, long nanos) {
    Slot slot = new Slot(name, nanos);
    slots.put(name, slot);
    return slot;
  }

  void remove(String name) {
    slots.remove(name);
  }

  /** Slots being emptied for waiting adapters. */
  int closing() {
    int n = 0;
    for (Slot slot : slots.values()) {
      if (slot.closing) {
        n++;
      }
    }
    return n;
  }

  /**
   * The least recently used resident slot still admitting sequences, to be emptied for a waiting
   * adapter.
   */
  Optional<Slot> closingCandidate() {
    for (Slot slot : slots.values()) {
      if (slot.state == State.RESIDENT && !slot.closing && !slot.unloadWhenIdle) {
        return Optional.of(slot);
      }
    }
    return Optional.empty();
  }

  /** The least recently used slot that may be evicted, other than {@code keep}. */
  Optional<Slot> evictionCandidate(String keep) {
    for (Slot slot : slots.values()) {
      if (slot.evictable() && !slot.name.equals(keep)) {
        return Optional.of(slot);
      }
    }
    return Optional.empty();
  }

  long residentBlocks() {
    long sum = 0;
    for (Slot slot : slots.values()) {
      sum += slot.blocks;
    }
    return sum;
  }

  Collection<Slot> all() {
    return slots.values();
  }

  List<String> names(State state) {
    List<String> out = new ArrayList<>();
    for (Slot slot : slots.values()) {
      if (slot.state == state) {
        out.add(slot.name);
      }
    }
    return out;
  }
}
