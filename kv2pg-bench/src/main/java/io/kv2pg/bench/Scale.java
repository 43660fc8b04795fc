package io.kv2pg.bench;

/**
 * How big each scenario is. {@code full} is the documented benchmark; {@code quick} a smaller run
 * for a first look (under 3 minutes on 2 cores); {@code tiny} only proves that every scenario runs
 * (the test suite uses it).
 *
 * @param copyRows entries of each initial-copy scenario
 * @param copyNaiveRows of those, how many the naive baseline copies (it is 50x slower)
 * @param streamBase entries the store and the table hold before the stream starts
 * @param streamChanges writes of the stream scenario
 * @param streamNaiveChanges of those, how many the naive baseline makes
 * @param lagBase entries before a lag run
 * @param lagWarmupSeconds writes at the target rate before the measured ones
 * @param lagSeconds measured writes, in seconds at the target rate
 * @param memoryRows entries of the memory scenario ({@code copy-10m})
 */
record Scale(String name, int copyRows, int copyNaiveRows, int streamBase, int streamChanges,
    int streamNaiveChanges, int lagBase, double lagWarmupSeconds, double lagSeconds, int memoryRows) {

  static final Scale FULL =
      new Scale("full", 1_000_000, 50_000, 1_000_000, 1_000_000, 50_000, 100_000, 2, 10, 10_000_000);
  static final Scale QUICK =
      new Scale("quick", 200_000, 10_000, 200_000, 200_000, 10_000, 20_000, 1, 3, 2_000_000);
  static final Scale TINY =
      new Scale("tiny", 3_000, 300, 3_000, 3_000, 300, 1_000, 0.1, 0.3, 20_000);
}
