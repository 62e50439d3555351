import Graph from "graphology";
import Sigma from "sigma";
import forceAtlas2 from "graphology-layout-forceatlas2";
window.graphology = { Graph: Graph };
window.Sigma = Sigma;
window.forceAtlas2 = forceAtlas2;
