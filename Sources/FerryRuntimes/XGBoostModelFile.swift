import Foundation

/// The parts of XGBoost's JSON model document (`doc/model.schema`) that prediction needs.
struct XGBoostModelFile: Decodable {
    var version: [Int]?
    var learner: Learner

    struct Learner: Decodable {
        var feature_names: [String]?
        var feature_types: [String]?
        var gradient_booster: Booster
        var learner_model_param: ModelParam
        var objective: Objective
    }

    struct ModelParam: Decodable {
        var base_score: String
        var num_class: String?
        var num_feature: String
        var num_target: String?
    }

    struct Objective: Decodable {
        var name: String
    }

    struct Booster: Decodable {
        var name: String
        /// Decoded only for `gbtree`, so other boosters get a clear "unsupported" instead of a decoding error.
        var model: GBTree?

        enum CodingKeys: String, CodingKey { case name, model }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            model = name == "gbtree" ? try c.decode(GBTree.self, forKey: .model) : nil
        }
    }

    struct GBTree: Decodable {
        var gbtree_model_param: TreeModelParam
        var trees: [Tree]
        var tree_info: [Int]
    }

    struct TreeModelParam: Decodable {
        var num_trees: String
        var num_parallel_tree: String?
    }

    struct Tree: Decodable {
        var left_children: [Int32]
        var right_children: [Int32]
        var split_indices: [Int64]
        var split_conditions: [Float]
        var default_left: FlagArray
        var split_type: FlagArray?
        var tree_param: TreeParam
    }

    struct TreeParam: Decodable {
        var num_nodes: String
        var size_leaf_vector: String?
    }

    /// XGBoost writes flags as 0/1 integers; some versions write booleans.
    struct FlagArray: Decodable {
        var values: [Bool]
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let ints = try? c.decode([Int].self) {
                values = ints.map { $0 != 0 }
            } else {
                values = try c.decode([Bool].self)
            }
        }
    }
}
