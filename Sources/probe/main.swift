import NamespaceProbe
let r = try Prober.run()
print(r.json().serialized())
