package dev.flotilla.api.prefix;

import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import java.util.Arrays;

/**
 * Prefix keys: 64-bit names for the prefixes of a request's input, computed from what the gateway
 * forwards to a worker, so that the gateway (which neither tokenizes nor renders chat templates)
 * and the worker name the same prefixes alike. A worker reports the keys of the prompts it
 * prefilled lately; the gateway sends a request to the worker holding its longest one.
 *
 * <p>A request's keys form a chain, shortest prefix first: key {@code i} names everything up to its
 * boundary, so two requests share key {@code i} exactly when they share that much input (up to
 * 64-bit collisions). The boundaries:
 *
 * <ul>
 *   <li><b>Text prompt:</b> every {@value #TEXT_BLOCK_CHARS} UTF-16 chars, and the prompt's end. At
 *       about four chars per token (English text in a BPE vocabulary) that is a key every ~128
 *       tokens: a 1,024-token system prompt yields eight keys, fine enough that a request sharing
 *       half of it matches half, coarse enough that a 32 K-char prompt needs only 64 keys.
 *   <li><b>Token ids:</b> every {@value #TOKEN_BLOCK} tokens (a whole number of KV blocks), and the
 *       end.
 *   <li><b>Chat:</b> the messages in order, each as its JSON text exactly as sent (the worker
 *       renders the same text with its template, so equal messages make an equal rendered prefix):
 *       a key every {@value #TEXT_BLOCK_CHARS} chars and at the end of every message. A shared
 *       system prompt and shared earlier turns therefore match whatever the last turn says. Tools
 *       and documents are hashed into the chain's start, since templates render them first.
 * </ul>
 *
 * <p>The adapter is hashed into every chain's start: an adapter changes every layer's KV, so its
 * prefixes are its own. The model scopes keys without being hashed: a worker serves one base model
 * and the gateway compares keys only among one model's workers. A chain stops after {@value
 * #MAX_KEYS} keys; longer inputs match at most that deep.
 */
public final class PrefixKeys {
  public static final int TEXT_BLOCK_CHARS = 512;
  public static final int TOKEN_BLOCK = 128;
  public static final int MAX_KEYS = 128;

  private static final char TEXT = 't';
  private static final char TOKENS = 'i';
  private static final char CHAT = 'c';

  private PrefixKeys() {}

  /**
   * A request's keys, shortest prefix first.
   *
   * @param keys the prefix keys
   * @param ends where each key's prefix ends, in the input's units (chars, or tokens for token ids)
   * @param length the whole input in the same units
   */
  public record Chain(long[] keys, int[] ends, int length) {
    public static final Chain EMPTY = new Chain(new long[0], new int[0], 0);

    public int size() {
      return keys.length;
    }

    /** The units the {@code i}-th key adds to the one before it. */
    public int span(int i) {
      return ends[i] - (i == 0 ? 0 : ends[i - 1]);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Chain c
          && Arrays.equals(keys, c.keys)
          && Arrays.equals(ends, c.ends)
          && length == c.length;
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(keys);
    }

    @Override
    public String toString() {
      return "Chain" + Arrays.toString(keys);
    }
  }

  /** The keys of a worker request's input, as the worker receives it. */
  public static Chain of(WorkerGenerateRequest request) {
    return switch (request.getInputCase()) {
      case PROMPT -> ofText(request.getAdapter(), request.getPrompt());
      case PROMPT_TOKEN_IDS -> ofTokens(request.getAdapter(), request.getPromptTokenIds());
      case CHAT -> ofChat(request.getAdapter(), request.getChat());
      case INPUT_NOT_SET -> Chain.EMPTY;
    };
  }

  public static Chain ofText(String adapter, String prompt) {
    Builder b = new Builder(TEXT, adapter);
    for (int i = 0; i < prompt.length() && !b.full(); i++) {
      b.add(prompt.charAt(i));
      if (b.sinceKey == TEXT_BLOCK_CHARS) {
        b.emit();
      }
    }
    b.emitIfPending();
    return b.build(prompt.length());
  }

  public static Chain ofTokens(String adapter, TokenIds ids) {
    Builder b = new Builder(TOKENS, adapter);
    for (int i = 0; i < ids.getIdsCount() && !b.full(); i++) {
      int id = ids.getIds(i);
      b.mix((char) (id >>> 16));
      b.add((char) id);
      if (b.sinceKey == TOKEN_BLOCK) {
        b.emit();
      }
    }
    b.emitIfPending();
    return b.build(ids.getIdsCount());
  }

  public static Chain ofChat(String adapter, ChatInput chat) {
    Builder b = new Builder(CHAT, adapter);
    b.mixString(chat.getToolsJson());
    b.mixString(chat.getDocumentsJson());
    String json = chat.getMessagesJson();
    int[] bounds = JsonArrayElements.split(json);
    for (int e = 0; e + 1 < bounds.length && !b.full(); e += 2) {
      for (int i = bounds[e]; i < bounds[e + 1] && !b.full(); i++) {
        b.add(json.charAt(i));
        if (b.sinceKey == TEXT_BLOCK_CHARS) {
          b.emit();
        }
      }
      b.emitIfPending();
      b.mix('\u0002'); // the message boundary, so that no message's end is another's middle
    }
    return b.build(b.position);
  }

  /** A running hash over the input, emitting a key at each boundary. */
  private static final class Builder {
    private final long[] keys = new long[MAX_KEYS];
    private final int[] ends = new int[MAX_KEYS];
    private int count;
    private long h = 0xcbf29ce484222325L;

    /** Units of input hashed so far. */
    int position;

    /** Units hashed since the last key. */
    int sinceKey;

    Builder(char kind, String adapter) {
      mix(kind);
      mixString(adapter);
    }

    /** Hashes a field of the chain's start; counts no input. */
    void mixString(String s) {
      for (int i = 0; i < s.length(); i++) {
        mix(s.charAt(i));
      }
      // The length ends the field, so that ("ab", "c") and ("a", "bc") differ.
      mix((char) (s.length() >>> 16));
      mix((char) s.length());
    }

    /** FNV-1a over UTF-16 chars. */
    void mix(char c) {
      h ^= c;
      h *= 0x100000001b3L;
    }

    /** Hashes one unit of input. */
    void add(char c) {
      mix(c);
      position++;
      sinceKey++;
    }

    boolean full() {
      return count == MAX_KEYS;
    }

    void emit() {
      // MurmurHash3's finaliser, so that neighbouring states give unrelated keys.
      long k = h ^ ((long) position << 32);
      k ^= k >>> 33;
      k *= 0xff51afd7ed558ccdL;
      k ^= k >>> 33;
      k *= 0xc4ceb9fe1a85ec53L;
      k ^= k >>> 33;
      keys[count] = k;
      ends[count] = position;
      count++;
      sinceKey = 0;
    }

    void emitIfPending() {
      if (sinceKey > 0 && !full()) {
        emit();
      }
    }

    Chain build(int length) {
      return new Chain(Arrays.copyOf(keys, count), Arrays.copyOf(ends, count), length);
    }
  }
}
