"""The scheduler: creates runs, decides which task instances may run, queues them, and
applies what the executor reports. It never imports user code."""
