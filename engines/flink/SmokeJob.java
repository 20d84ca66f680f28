// A small batch job the tests submit to the local Flink session cluster through
// its REST API (POST /jars/upload, /jars/<id>/run) to show the cluster runs work
// across its TaskManagers: a sequence, a keyed sum (a shuffle between the
// TaskManagers), and a sink that discards. Compiled by the test with javac
// against the cached lib/flink-dist jar; no Beam involved.
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.ReduceFunction;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.DiscardingSink;

public class SmokeJob {
  public static void main(String[] args) throws Exception {
    long rows = args.length > 0 ? Long.parseLong(args[0]) : 100000L;
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setRuntimeMode(RuntimeExecutionMode.BATCH);
    env.fromSequence(1, rows)
        .map(new MapFunction<Long, Tuple2<Long, Long>>() {
          public Tuple2<Long, Long> map(Long x) { return Tuple2.of(x % 10, x); }
        })
        .keyBy(new KeySelector<Tuple2<Long, Long>, Long>() {
          public Long getKey(Tuple2<Long, Long> t) { return t.f0; }
        })
        .reduce(new ReduceFunction<Tuple2<Long, Long>>() {
          public Tuple2<Long, Long> reduce(Tuple2<Long, Long> a, Tuple2<Long, Long> b) {
            return Tuple2.of(a.f0, a.f1 + b.f1);
          }
        })
        .addSink(new DiscardingSink<Tuple2<Long, Long>>());
    env.execute("driftgate-smoke");
  }
}
