import Foundation

/// The parts of XGBoost's JSON model document (`doc/model.schema`) that prediction needs, as `XGBoostJSONReader`
/// reads them (field names are the document's keys).
struct XGBoostModelFile {
    var version: [Int]?
    var learner: Learner

    struct Learner {
        var feature_names: [String]?
        var feature_types: [String]?
        var gradient_booster: Booster
        var learner_model_param: ModelParam
        var objective: Objective
        /// Free-form learner attributes; `best_iteration` after early stopping.
        var attributes: [String: String]?
    }

    struct ModelParam {
        var base_score: String
        var num_class: String?
        var num_feature: String
        var num_target: String?
    }

    struct Objective {
        var name: String
    }

    struct Booster {
        var name: String
        /// Decoded only for tree boosters, so others get a clear "unsupported" instead of a decoding error.
        var model: GBTree?
        /// Dart: the weight each tree's output is multiplied by.
        var weightDrop: [Float]?
    }

    struct GBTree {
        var gbtree_model_param: TreeModelParam
        var trees: [Tree]
        var tree_info: [Int]
        /// First tree of each boosting round (xgboost ≥ 2.0).
        var iteration_indptr: [Int]?
    }

    struct TreeModelParam {
        var num_trees: String
        var num_parallel_tree: String?
    }

    struct Tree {
        var left_children: [Int32]
        var right_children: [Int32]
        var split_indices: [Int64]
        var split_conditions: [Float]
        /// Each split's gain (loss reduction), for feature importance.
        var loss_changes: [Float]?
        /// Each node's cover (sum of training hessians), used by TreeSHAP.
        var sum_hessian: [Float]?
        var default_left: FlagArray
        var split_type: FlagArray?
        var tree_param: TreeParam
        /// Categorical splits (CSR): node `categories_nodes[k]` goes right for the categories
        /// `categories[categories_segments[k] ..< + categories_sizes[k]]`.
        var categories_nodes: [Int]?
        var categories_segments: [Int]?
        var categories_sizes: [Int]?
        var categories: [Int]?
        /// Multi-target trees (`size_leaf_vector` > 1): the leaves' weight vectors, leaf after leaf in node order.
        var leaf_weights: [Float]?
    }

    struct TreeParam {
        var num_nodes: String
        var size_leaf_vector: String?
    }

    /// Flags (XGBoost writes them as 0/1 integers; some versions write booleans).
    struct FlagArray {
        var values: [Bool]
    }
}
