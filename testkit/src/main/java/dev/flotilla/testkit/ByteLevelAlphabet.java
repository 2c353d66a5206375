package dev.flotilla.testkit;

/**
 * GPT-2's byte-to-unicode table, which the Hugging Face ByteLevel pre-tokenizer and decoder use:
 * printable bytes stand for themselves, the rest are shifted to code points from 256 up, so every
 * byte-level token is a string of visible characters (a leading space shows as {@code Ġ}).
 */
final class ByteLevelAlphabet {

  private static final char[] BYTE_TO_CHAR = buildTable();

  private ByteLevelAlphabet() {}

  static char charFor(int unsignedByte) {
    return BYTE_TO_CHAR[unsignedByte];
  }

  static String encode(byte[] bytes) {
    StringBuilder out = new StringBuilder(bytes.length);
    for (byte b : bytes) {
      out.append(BYTE_TO_CHAR[b & 0xff]);
    }
    return out.toString();
  }

  private static char[] buildTable() {
    char[] table = new char[256];
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      table[b] = (char) (printable ? b : next++);
    }
    return table;
  }
}
