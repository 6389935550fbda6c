from benchmarks.quality.harness import main

main()
