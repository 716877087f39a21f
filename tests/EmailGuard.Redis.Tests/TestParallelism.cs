// xunit runs as many collections at once as the machine has cores: two on CI. The suite's collections mostly wait on
// Redis, Garnet and cluster nodes (its processes use about a third of two cores), so with two the three server
// collections ran two at a time and the cluster collection, 2 minutes on its own, waited for a slot. Four let the three
// run side by side, with one slot for the classes that stand alone. The fault collections still run alone, after these.
[assembly: CollectionBehavior(MaxParallelThreads = 4)]
