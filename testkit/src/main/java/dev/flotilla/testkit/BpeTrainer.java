package dev.flotilla.testkit;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Learns byte-level BPE merges from a text, the classic way: split into GPT-2 pre-tokens, start
 * from single bytes, and repeatedly merge the most frequent adjacent pair. Ties go to the pair that
 * sorts first, so the result depends on nothing but the text and the number of merges asked for.
 */
final class BpeTrainer {

  /** The pre-tokenizer regex of GPT-2, which the ByteLevel pre-tokenizer applies with use_regex. */
  static final Pattern GPT2_SPLIT =
      Pattern.compile(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

  record Merge(String left, String right) {
    String merged() {
      return left + right;
    }
  }

  private BpeTrainer() {}

  /**
   * Up to {@code maxMerges} merges; fewer when every pre-token of the text is already one symbol.
   */
  static List<Merge> learn(String text, int maxMerges) {
    // TreeMap: word iteration order, and so pair counting, is the same on every run.
    Map<String, Integer> wordCounts = new TreeMap<>();
    Matcher matcher = GPT2_SPLIT.matcher(text);
    while (matcher.find()) {
      String word = ByteLevelAlphabet.encode(matcher.group().getBytes(StandardCharsets.UTF_8));
      wordCounts.merge(word, 1, Integer::sum);
    }
    List<List<String>> words = new ArrayList<>();
    List<Integer> counts = new ArrayList<>();
    wordCounts.forEach(
        (word, count) -> {
          List<String> symbols = new ArrayList<>();
          word.codePoints().forEach(cp -> symbols.add(new String(Character.toChars(cp))));
          words.add(symbols);
          counts.add(count);
        });

    List<Merge> merges = new ArrayList<>();
    while (merges.size() < maxMerges) {
      Merge best = mostFrequentPair(words, counts);
      if (best == null) {
        break;
      }
      merges.add(best);
      for (List<String> symbols : words) {
        apply(best, symbols);
      }
    }
    return merges;
  }

  private static Merge mostFrequentPair(List<List<String>> words, List<Integer> counts) {
    Map<Merge, Integer> pairCounts = new HashMap<>();
    for (int w = 0; w < words.size(); w++) {
      List<String> symbols = words.get(w);
      for (int i = 0; i + 1 < symbols.size(); i++) {
        pairCounts.merge(
            new Merge(symbols.get(i), symbols.get(i + 1)), counts.get(w), Integer::sum);
      }
    }
    Merge best = null;
    int bestCount = 0;
    for (Map.Entry<Merge, Integer> entry : pairCounts.entrySet()) {
      Merge pair = entry.getKey();
      int count = entry.getValue();
      if (count > bestCount || (count == bestCount && compare(pair, best) < 0)) {
        best = pair;
        bestCount = count;
      }
    }
    return best;
  }

  private static int compare(Merge a, Merge b) {
    int byLeft = a.left().compareTo(b.left());
    return byLeft != 0 ? byLeft : a.right().compareTo(b.right());
  }

  private static void apply(Merge merge, List<String> symbols) {
    for (int i = 0; i + 1 < symbols.size(); i++) {
      if (symbols.get(i).equals(merge.left()) && symbols.get(i + 1).equals(merge.right())) {
        symbols.set(i, merge.merged());
        symbols.remove(i + 1);
      }
    }
  }
}
